"""`import_xlsform`: a workbook to a native form file, checked by the form loader."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import yaml

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import FORM_FORMAT, load_form_text
from fieldscreen.forms.xlsform.cells import _bounded, _out_of_scope
from fieldscreen.forms.xlsform.media import MediaColumns
from fieldscreen.forms.xlsform.model import ImportResult, _Node
from fieldscreen.forms.xlsform.survey import _SurveyReader
from fieldscreen.forms.xlsform.tables import CHOICES, RULES, SETTINGS, SURVEY
from fieldscreen.forms.xlsform.workbook import _WorkbookReader
from fieldscreen.forms.yamlsource import MAX_SOURCE_BYTES, LocatedList, LocatedMap, parse_yaml
from fieldscreen.i18n import _


def import_xlsform(path: Path) -> ImportResult:
    """Convert an XLSForm workbook into a native form file.

    Args:
        path: The .xlsx workbook (survey, choices and settings sheets, optionally the
            fs_rules and fs_notes sheets; see docs/xlsform.md).

    Returns:
        The YAML text, valid for `load_form_text`, and the warnings about what was left out.

    Raises:
        SourceProblems: The workbook cannot be read or cannot be represented; each problem
            names the sheet and row (``file.xlsx#survey:12: message``).
    """
    return _Importer(Path(path)).run()




class _Importer(_SurveyReader):
    """Runs the sheet readers in order and writes the native YAML."""

    # -- entry point -------------------------------------------------------------------

    def run(self) -> ImportResult:
        _WorkbookReader(self).read()
        if SURVEY not in self.sheets:
            raise self.refuse(SURVEY, 0, _(
                "the workbook has no 'survey' sheet; an XLSForm needs survey, choices and "
                "settings sheets"))
        for sheet in self.sheets.values():
            self._header(sheet)
        self._resolve_languages()
        for sheet in self.sheets.values():
            self._assign_fields(sheet)
        media = MediaColumns.claim(self)
        self._raise_errors()
        settings = self._read_settings()
        choice_lists = self._with_external_choices(self._read_choices())
        items = self._read_survey(choice_lists)
        media.apply(self, items, choice_lists)
        self._leave_out_unused_lists(choice_lists, items)
        self._picture_only_choices(choice_lists)
        rules = self._read_rules(settings["version"])
        notes = self._read_notes()
        self._check_references(items, rules)
        self._raise_errors()
        data: dict[str, Any] = {"format": FORM_FORMAT, **settings,
                                "choice_lists": {name: [entry for _row, entry in entries]
                                                 for name, entries in choice_lists.items()},
                                "rules": rules,
                                "items": [node.to_data() for node in items]}
        text = self._yaml_text(data, notes)
        self._validate(text, items)
        return ImportResult(yaml_text=text, warnings=_bounded(self._sorted(self.warnings)))

    def _leave_out_unused_lists(self, choice_lists: dict[str, Any],
                                items: list[_Node]) -> None:
        # A list no question uses asks nothing (pyxform leaves it out of the XForm too), so
        # a half-written one (a choice without a label) does not stop the form: it is left
        # out, with a warning. Unused lists that are whole are kept, as written.
        used = {node.entry.get("choices") for top in items for node in top.walk()}
        for name in [name for name in choice_lists if name not in used]:
            if all(self.default_language in (entry.get("label") or {})
                   for _row, entry in choice_lists[name]):
                continue
            rows = self.choice_rows.get(name, [0])
            self.warn(self.list_sheets.get(name, CHOICES), rows[0], _(
                "the choice list '{name}' has a choice without a label and is used by no "
                "question; it is left out").format(name=name))
            del choice_lists[name]

    def _picture_only_choices(self, choice_lists: dict[str, Any]) -> None:
        # ODK shows a choice with only a picture; FieldScreen shows, reads aloud and
        # explains every answer in words, so such a list is out of scope (docs/decisions.md,
        # 67), said plainly instead of "needs a label".
        for name, entries in choice_lists.items():
            for row, entry in entries:
                if entry.get("label") or not (entry.get("media") or {}).get("image"):
                    continue
                self.error(self.list_sheets.get(name, CHOICES), row, _out_of_scope(_(
                    "choice '{choice}' has only a picture ({image}); choices with only a "
                    "picture are not supported, since FieldScreen shows and reads every "
                    "answer in words: give it a label").format(
                    choice=entry["name"], image=entry["media"]["image"])))

    # -- YAML out ----------------------------------------------------------------------

    def _yaml_text(self, data: dict[str, Any], notes: list[str]) -> str:
        # Not translated: the file's text must not depend on the UI language.
        header = [f"Converted from {self.path.name} by `fieldscreen forms import-xlsform`."]
        if notes:
            header.extend(["", *notes])
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header)
        body = yaml.dump(data, Dumper=_FormDumper, sort_keys=False, allow_unicode=True,
                         width=96, default_flow_style=False)
        text = f"{comment}\n{body}"
        if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
            raise self.refuse(SURVEY, 0, _(
                "the converted form would be larger than {limit} MiB, the limit for form "
                "files; shorten or split it").format(limit=MAX_SOURCE_BYTES // (1024 * 1024)))
        return text

    def _validate(self, text: str, items: list[_Node]) -> None:
        """Run the form loader and report its problems at the sheet rows they came from."""
        shown = "<xlsform>"
        try:
            load_form_text(text, shown)
        except SourceProblems as problems:
            origins = self._origins(parse_yaml(text, shown), items)
            lines = [line for line, _kind, _row in origins]
            for problem in problems.problems:
                index = bisect.bisect_right(lines, problem.line) - 1
                _line, kind, row = origins[index] if index >= 0 else (0, SETTINGS, 0)
                self.error(kind, row, problem.message)
            self._raise_errors()

    def _origins(self, data: LocatedMap, items: list[_Node]) -> list[tuple[int, str, int]]:
        """(YAML line, sheet, row) for every line that starts something, sorted by line."""
        found: list[tuple[int, str, int]] = [(0, SETTINGS, self.settings_row)]

        def mark(located: Any, kind: str, row: int) -> None:
            if isinstance(located, LocatedMap):
                found.append((located.line, kind, row))
                found.extend((line, kind, row) for line in located.key_lines.values())

        mark(data, SETTINGS, self.settings_row)
        found.append((data.line_of("items"), SURVEY, 0))
        lists = data.get("choice_lists")
        if isinstance(lists, LocatedMap):
            for list_name, entries in lists.items():
                rows = self.choice_rows.get(list_name, [0])
                sheet = self.list_sheets.get(list_name, CHOICES)
                found.append((lists.line_of(list_name), sheet, rows[0]))
                for line, row in zip(entries.item_lines, rows, strict=False):
                    found.append((line, sheet, row))
        found.append((data.line_of("choice_lists"), CHOICES, 0))
        found.append((data.line_of("rules"), RULES, 0))
        rules = data.get("rules")
        if isinstance(rules, LocatedMap):
            for key, value in rules.items():
                if isinstance(value, LocatedMap):
                    rows = [self.rule_rows.get(f"{key}.{sub}", 0) for sub in value]
                    found.append((rules.line_of(key), RULES, min(rows, default=0)))
                    found.extend((value.line_of(sub), RULES, row)
                                 for sub, row in zip(value, rows, strict=True))
                else:
                    found.append((rules.line_of(key), RULES, self.rule_rows.get(key, 0)))
        nodes = [node for top in items for node in top.walk()]
        located_items: list[LocatedMap] = []

        def collect(entries: Any) -> None:
            if isinstance(entries, LocatedList):
                for entry in entries:
                    if isinstance(entry, LocatedMap):
                        located_items.append(entry)
                        collect(entry.get("items"))

        collect(data.get("items"))
        for located, node in zip(located_items, nodes, strict=False):
            mark(located, SURVEY, node.row)
        found.sort(key=lambda origin: origin[0])
        return found




# libyaml's emitter when present: the pure-Python one takes seconds on a large form.
_BaseDumper: Any = yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper


class _FormDumper(_BaseDumper):
    """Block style, literal blocks for multi-line text, never anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: Any, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data,
                                   style="|" if "\n" in data else None)


_FormDumper.add_representer(str, _represent_text)

