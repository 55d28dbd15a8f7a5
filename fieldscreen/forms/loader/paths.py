"""`forms check`: every form and services file under the given files and folders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fieldscreen.errors import SourceProblem, SourceProblems
from fieldscreen.forms.loader.reader import FormReader
from fieldscreen.forms.media import missing_media
from fieldscreen.forms.yamlsource import (
    parse_yaml,
    read_source_text,
)
from fieldscreen.i18n import _


def check_paths(paths: Iterable[str | Path]) -> list[SourceProblem]:
    """Validate every form and services file under `paths` (files or folders).

    Returns:
        All problems found, in file order; empty when everything is valid.
    """
    from fieldscreen.forms.services import read_services  # the sibling reader

    problems: list[SourceProblem] = []
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                problems.append(SourceProblem(str(path), 0, _(
                    "no .yaml form files in this folder")))
            files.extend(found)
        else:
            files.append(path)
    for path in files:
        try:
            # Parsed once; the format line says which reader validates it.
            data = parse_yaml(read_source_text(path), str(path))
            kind = data.get("format") if isinstance(data, dict) else None
            if isinstance(kind, str) and kind.startswith("fieldscreen-services/"):
                read_services(data, str(path))
            else:
                form = FormReader(str(path), source=path).read(data)
                problems.extend(missing_media(form, path))
        except SourceProblems as error:
            problems.extend(error.problems)
    return problems
