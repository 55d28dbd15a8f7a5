"""Lets `python -m fieldscreen` run the command-line interface."""

import sys

from fieldscreen.cli import main

sys.exit(main())
