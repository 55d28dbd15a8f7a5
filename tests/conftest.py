"""Shared fixtures: paths to test data and loaded forms, an isolated base directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The real PostgreSQL server (one for the whole session) and a fresh database per test.
from tests.postgres_server import postgres_server, postgres_url  # noqa: F401

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
def world(tmp_path):
    """A coordinator and one enrolled field laptop sharing a folder relay
    (tests/exchange_helpers.py, `make_world`), closed after the test."""
    from tests.exchange_helpers import make_world

    built = make_world(tmp_path)
    yield built
    built.close()


@pytest.fixture
def basedir(tmp_path):
    """A fresh base directory for one test."""
    base = tmp_path / "base"
    base.mkdir()
    return base


# -- coverage held at 100 % ---------------------------------------------------------------

# Core modules whose every line and branch the suite runs. The list only grows: a change
# that leaves one of them below 100 % fails the whole run (docs/architecture.md, "Tests").
FULLY_COVERED = [
    "fieldscreen/engine/explain.py",
    "fieldscreen/engine/referral.py",
    "fieldscreen/engine/steps.py",
    "fieldscreen/errors.py",
    "fieldscreen/files.py",
    "fieldscreen/forms/dependencies.py",
    "fieldscreen/reporting/charts.py",
    "fieldscreen/store/layout.py",
    "fieldscreen/store/timestamps.py",
]


def _whole_suite(config: pytest.Config) -> bool:
    """Whether this run is the README's full run (a selection may skip what covers them)."""
    option = config.option
    return not (option.file_or_dir or option.keyword or option.markexpr
                or getattr(option, "lf", False) or getattr(option, "deselect", None))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    plugin = session.config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    coverage = getattr(controller, "cov", None)
    if coverage is None or exitstatus != 0 or not _whole_suite(session.config):
        return
    import io

    below = []
    for module in FULLY_COVERED:
        try:
            percent = coverage.report(include=[str(ROOT / module)], file=io.StringIO())
        except Exception:  # coverage raises NoDataError when the module never ran
            percent = 0.0
        if percent < 100.0:
            below.append(f"{module} ({percent:.1f} %)")
    if below:
        reporter = session.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line("Coverage fell below 100 % in modules held there: "
                                + ", ".join(below), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
