"""tools/migrate-plural-forms: the slots move to where the new CLDR rule puts the same numbers."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from tests.conftest import ROOT

TOOL = ROOT / "tools" / "migrate-plural-forms"


def _tool():
    loader = importlib.machinery.SourceFileLoader("migrate_plural_forms", str(TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_babel_2_18_slots_map_to_the_pinned_rules():
    tool = _tool()
    # French and Spanish gained "many" (a million): it takes the old plural, "other".
    assert tool.slot_map("(n > 1)", Catalog(locale="fr").plural_expr, 3) == [0, 1, 1]
    assert tool.slot_map("(n != 1)", Catalog(locale="es").plural_expr, 3) == [0, 1, 1]
    # Arabic's "many" (11-99) and "other" (100-102) changed places.
    old_arabic = ("(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : "
                  "n%100>=0 && n%100<=2 ? 4 : 5)")
    assert tool.slot_map(old_arabic, Catalog(locale="ar").plural_expr, 6) == [0, 1, 2, 3, 5, 4]


def test_migrates_a_copy_of_the_translations_and_then_has_nothing_to_do(tmp_path):
    copy = tmp_path / "project"
    (copy / "tools").mkdir(parents=True)
    shutil.copy(TOOL, copy / "tools" / TOOL.name)
    folder = copy / "translations" / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    old = Catalog(locale="fr", domain="fieldscreen")
    old.mime_headers = [("Plural-Forms", "nplurals=2; plural=(n > 1);")]
    old.add(("{count} record", "{count} records"), ("{count} fiche", "{count} fiches"))
    with (folder / "fieldscreen.po").open("wb") as handle:
        write_po(handle, old)
    tool = [sys.executable, str(copy / "tools" / TOOL.name)]
    assert subprocess.run([*tool, "--check"], capture_output=True).returncode == 1
    subprocess.run(tool, check=True, capture_output=True)
    with (folder / "fieldscreen.po").open("rb") as handle:
        migrated = read_po(handle, locale="fr")
    assert migrated.plural_forms == Catalog(locale="fr").plural_forms
    assert migrated[("{count} record")].string == (
        "{count} fiche", "{count} fiches", "{count} fiches")
    assert subprocess.run([*tool, "--check"], capture_output=True).returncode == 0


def test_the_shipped_catalogs_follow_the_installed_babel():
    result = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout
