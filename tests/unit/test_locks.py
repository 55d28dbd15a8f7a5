"""The lock files pin every dependency, with hashes, and agree with pyproject.toml's ranges."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

LOCKS = {"app": [], "test": ["test"], "bench": ["bench"], "bundle": ["bundle"]}


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _pins(lock: str) -> dict[str, list[Version]]:
    """Package name → pinned versions (a universal lock may pin two, by Python version)."""
    text = (ROOT / "requirements" / f"{lock}.lock").read_text(encoding="utf-8")
    pins: dict[str, list[Version]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = entry.split("\\", 1)[0].strip()
        if not first or first.startswith("#"):
            continue
        requirement = Requirement(first)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{lock}.lock: {first} is not pinned exactly"
        assert "--hash=sha256:" in entry, f"{lock}.lock: {requirement.name} has no hash"
        name = _normal(requirement.name)
        pins.setdefault(name, []).append(Version(specifier.version))
    return pins


def _normal(name: str) -> str:
    """PEP 503: case, '.', '_' and '-' runs do not matter (fhir.resources is fhir-resources)."""
    return canonicalize_name(name)


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_direct_dependency_is_pinned_within_its_range(lock):
    project = _pyproject()
    wanted = [Requirement(text) for text in project["project"]["dependencies"]]
    for extra in LOCKS[lock]:
        wanted += [Requirement(text) for text in project["project"]["optional-dependencies"][extra]]
    wanted += [Requirement(text) for text in project["build-system"]["requires"]]
    pins = _pins(lock)
    for requirement in wanted:
        versions = pins.get(_normal(requirement.name))
        assert versions, f"{lock}.lock lacks {requirement.name}: run tools/update-locks"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock}.lock pins {requirement.name}=={version} outside {requirement.specifier}")


def test_the_locks_agree_with_each_other():
    # One version of each package everywhere, so the tests run what the app ships.
    seen: dict[str, tuple[str, list[Version]]] = {}
    for lock in sorted(LOCKS):
        for name, versions in _pins(lock).items():
            if name in seen:
                assert seen[name][1] == versions, f"{name}: {lock} and {seen[name][0]} differ"
            else:
                seen[name] = (lock, versions)


def test_babel_is_the_release_the_catalogs_were_migrated_to():
    # CLDR moves plural categories between Babel releases (tools/migrate-plural-forms).
    import babel

    assert [Version(babel.__version__)] == _pins("app")["babel"]
