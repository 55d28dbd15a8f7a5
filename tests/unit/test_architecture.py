"""The shape of the code: the core runs without Qt, layers point one way, and lint is clean."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT, SHIPPED_FORM

CORE_PACKAGES = ["forms", "engine", "store", "exchange", "demo", "workflows"]
BIN = Path(sys.executable).parent


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, check=False)


def test_core_imports_and_works_with_qt_unavailable():
    # Equivalent to a CI job without PySide6: any attempt to import Qt fails loudly.
    result = run_python(f"""
        import importlib, importlib.abc, pkgutil, sys

        class NoQt(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("PySide6", "shiboken6"):
                    raise ImportError("Qt is not available in this test")
                return None

        sys.meta_path.insert(0, NoQt())
        import fieldscreen
        imported = []
        for package in {CORE_PACKAGES!r}:
            module = importlib.import_module("fieldscreen." + package)
            imported.append(module.__name__)
            for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
                importlib.import_module(info.name)
                imported.append(info.name)
        for name in ("fieldscreen.cli", "fieldscreen.i18n", "fieldscreen.errors",
                     "fieldscreen.paths"):
            importlib.import_module(name)
        from fieldscreen.cli import main
        assert main(["forms", "check", {str(SHIPPED_FORM)!r}]) == 0
        assert not any(name.startswith("PySide6") for name in sys.modules)
        print(len(imported))
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


def test_command_line_start_up_does_not_load_qt():
    result = run_python("""
        import sys
        import fieldscreen.cli
        heavy = [m for m in ("PySide6", "cryptography", "pyrage", "yaml", "babel.messages")
                 if m in sys.modules]
        print(heavy)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_contracts_hold():
    result = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], capture_output=True,
                            text=True, timeout=300, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every contract of pyproject.toml ran and held (a contract that fails to load is not
    # "kept").
    contracts = (ROOT / "pyproject.toml").read_text(encoding="utf-8").count(
        "[[tool.importlinter.contracts]]")
    assert contracts >= 6
    assert f"Contracts: {contracts} kept, 0 broken" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([str(BIN / "ruff"), "check", "."], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
