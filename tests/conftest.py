"""Shared fixtures: paths to test data and loaded forms, an isolated base directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt tests run headless unless a test starts Xvfb itself.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Messages are checked in English unless a test asks for another language.
os.environ["LANGUAGE"] = "en"

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHIPPED_FORM = ROOT / "forms" / "child-screening.yaml"
SHIPPED_SERVICES = ROOT / "forms" / "services.yaml"


@pytest.fixture(scope="session")
def mini_form():
    from fieldscreen.forms.loader import load_form

    return load_form(DATA / "forms" / "mini.yaml")


@pytest.fixture(scope="session")
def shipped_form():
    from fieldscreen.forms.loader import load_form

    return load_form(SHIPPED_FORM)


@pytest.fixture
def basedir(tmp_path):
    """A fresh base directory for one test."""
    base = tmp_path / "base"
    base.mkdir()
    return base
