"""What the command line loads before it runs a verb: nothing a window has to wait for."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT


def test_an_english_start_reads_no_catalog_and_no_uuid():
    # Babel's catalog reader (and the email parser it brings) and uuid cost a cold start
    # tens of milliseconds; `fieldscreen field` in English needs none of them before its
    # unlock window is shown.
    script = textwrap.dedent("""
        import sys
        from fieldscreen.cli import _choose_language, build_parser
        from fieldscreen.i18n import _, active_language
        _choose_language(["--language", "en", "field"])
        build_parser().parse_args(["field"])
        import fieldscreen.workflows.screening
        assert active_language() == "en" and _("Lock") == "Lock"
        print(sorted(m for m in ("babel.messages", "email.parser", "uuid") if m in sys.modules))
    """)
    # Coverage measures the suite's subprocesses too, and itself loads uuid there: this test
    # is about the app's own imports, so its subprocess runs without coverage.
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("COVERAGE")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=False, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
