"""docs/architecture.md stays the map: every package and top-level module has its row."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "fieldscreen"


def _mapped() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- module-map", 1)[1].split("<!-- end of module-map", 1)[0]
    return set(re.findall(r"^\| `(fieldscreen/[^`]+)` \|", table, re.MULTILINE))


def _in_the_code() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if "__pycache__" in relative:
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            found.add(relative + "/")
        elif path.is_file() and path.suffix == ".py" and path.parent == PACKAGE \
                and path.name != "__init__.py":
            found.add(relative)
    return found


def test_the_module_map_names_every_package_and_top_level_module():
    mapped, present = _mapped(), _in_the_code()
    present.discard("fieldscreen/")
    missing = sorted(present - mapped)
    gone = sorted(mapped - present)
    assert not missing, f"docs/architecture.md lacks rows for {missing}"
    assert not gone, f"docs/architecture.md maps what no longer exists: {gone}"


def test_every_module_the_doc_names_exists():
    text = DOC.read_text(encoding="utf-8")
    for name in set(re.findall(r"`((?:ui|workflows|reporting|exchange|store|engine|forms|demo)"
                               r"/[a-z_/]+\.py)`", text)):
        assert (PACKAGE / name).is_file(), f"docs/architecture.md names {name}, which is gone"
