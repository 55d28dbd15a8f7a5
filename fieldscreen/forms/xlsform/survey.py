"""The survey sheet: rows to an item tree, groups, what is dropped and why, expressions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fieldscreen.forms.expressions import ExpressionError, parse_expression
from fieldscreen.forms.names import ITEM_NAME
from fieldscreen.forms.schema import ItemType
from fieldscreen.forms.xlsform.cells import (
    _as_text,
    _expression_mistake,
    _flag,
    _form_mistake,
    _number_or_text,
    _out_of_scope,
    _shorten,
)
from fieldscreen.forms.xlsform.item_types import _parse_type, _Type
from fieldscreen.forms.xlsform.model import _Frame, _Node, _Row, _Sheet
from fieldscreen.forms.xlsform.sheets import _SheetReaders
from fieldscreen.forms.xlsform.tables import RULES, SURVEY
from fieldscreen.i18n import N_, _, ngettext

# The choice `or_other` adds, as pyxform names it.
_OTHER = "other"


class _SurveyReader(_SheetReaders):
    """Reads the survey sheet into an item tree."""

    # -- survey ------------------------------------------------------------------------

    def _read_survey(self, choice_lists: dict[str, Any]) -> list[_Node]:
        sheet = self.sheets[SURVEY]
        top: list[_Node] = []
        stack: list[_Frame] = []
        for row in sheet.rows:
            raw_type = self._cell(sheet, row, "type")
            type_text = " ".join(_as_text(raw_type).split()) if raw_type is not None else ""
            if not type_text:
                self.warn(SURVEY, row.number, _("this row has no type; it is ignored"))
                continue
            parsed = _parse_type(type_text)
            if parsed.container == "end":
                self._close(stack, parsed.structure, row)
                continue
            name = self._identifier(sheet, row, "name")
            if name is not None:
                self._claim(name, row)
            elif parsed.kind != "unknown" and self._cell(sheet, row, "name") is None:
                self.error(SURVEY, row.number, _("this '{type}' row has no name").format(
                    type=type_text))
            if any(frame.dropped for frame in stack):
                self._inside_dropped(stack, parsed, row, name)
                continue
            if parsed.kind == "unknown":
                self.error(SURVEY, row.number, _(
                    "unknown type '{type}' ({reason}); see docs/xlsform.md for the types "
                    "FieldScreen reads").format(
                    type=_shorten(type_text),
                    reason=_(parsed.reason or N_("not an XLSForm type FieldScreen knows"))))
                continue
            if parsed.kind == "repeat":
                self.error(SURVEY, row.number, _out_of_scope(_("type '{type}' ({reason})").format(
                    type=_shorten(type_text), reason=_("repeats are not supported"))))
                stack.append(_Frame("repeat", row.number, name or "", dropped=True))
                if name:
                    self.dropped[name] = (row.number, _("repeats are not supported"))
                continue
            if parsed.kind == "metadata":
                self._drop_row(sheet, row, name, type_text, _(parsed.reason))
                continue
            if parsed.kind == "unsupported":
                self.error(SURVEY, row.number, _out_of_scope(_("type '{type}' ({reason})").format(
                    type=_shorten(type_text), reason=_(parsed.reason))))
                continue
            if name is None:
                if parsed.item_type is ItemType.GROUP:
                    # Keeps its end_group matched; the missing name is already an error.
                    stack.append(_Frame("group", row.number, "", dropped=True))
                continue
            container = stack[-1].node.children if stack and stack[-1].node else top
            assert parsed.item_type is not None and container is not None
            node = self._item(sheet, row, name, parsed, choice_lists)
            container.append(node)
            if parsed.or_other:
                container.append(self._specify_other(name, row))
            if parsed.item_type is ItemType.GROUP:
                stack.append(_Frame("group", row.number, name, dropped=False, node=node,
                                    container=container))
        for frame in reversed(stack):
            self.error(SURVEY, frame.row, _(
                "begin_{kind} '{name}' has no matching end_{kind}").format(
                kind=frame.kind, name=frame.name))
        if not self.errors and not top:
            self.error(SURVEY, 1, _("nothing on the survey sheet can be used by FieldScreen"))
        return top

    def _add_other_choice(self, entries: list[tuple[int, dict[str, Any]]], list_name: str,
                          row: int) -> None:
        # pyxform's `or_other`: an "Other" choice (in every language of the list's labels)
        # added to the list itself, so every select using the list offers it, as in ODK.
        if any(entry["name"] == _OTHER for _row, entry in entries):
            return
        languages = sorted({language for _row, entry in entries
                            for language in entry.get("label", {})}) or [self.default_language]
        entries.append((row, {"name": _OTHER, "label": dict.fromkeys(languages, "Other")}))
        self.choice_rows.setdefault(list_name, []).append(row)

    def _specify_other(self, name: str, row: _Row) -> _Node:
        # ...and a text question shown when "Other" is chosen, named and worded as pyxform
        # names and words it, so the export converts back to the same form.
        other = f"{name}_other"
        self._claim(other, row)
        relevant = f"selected(${{{name}}}, '{_OTHER}')"
        node = _Node(row.number, other, {
            "name": other, "type": ItemType.TEXT.value,
            "label": {self.default_language: "Specify other."}, "relevant": relevant})
        node.references.append(("relevant", frozenset({name})))
        return node

    def _claim(self, name: str, row: _Row) -> None:
        if not ITEM_NAME.match(name) and ITEM_NAME.match(re.sub(r"[.-]", "_", name)):
            # XML and pyxform allow them; FieldScreen's names do not (docs/decisions.md, 70).
            self.error(SURVEY, row.number, _(
                "name '{name}' holds '-' or '.', which ODK allows but FieldScreen does not "
                "(its names are used in the deployment pack's file names); rename it, e.g. "
                "'{suggestion}', and the ${{...}} references to it").format(
                name=_shorten(name), suggestion=re.sub(r"[.-]", "_", name)))
        elif not ITEM_NAME.match(name):
            self.error(SURVEY, row.number, _(
                "name '{name}' must start with a letter and use only letters, digits or '_' "
                "(at most 64)").format(name=_shorten(name)))
        elif name in self.names:
            self.error(SURVEY, row.number, _(
                "name '{name}' is already used on row {row}; every name must be unique"
            ).format(name=name, row=self.names[name]))
        else:
            self.names[name] = row.number

    def _close(self, stack: list[_Frame], structure: str, row: _Row) -> None:
        if not stack:
            self.error(SURVEY, row.number, _("end_{kind} has no matching begin_{kind}").format(
                kind=structure))
            return
        frame = stack.pop()
        if frame.kind != structure:
            self.error(SURVEY, row.number, _(
                "end_{kind} closes the begin_{other} '{name}' of row {row}").format(
                kind=structure, other=frame.kind, name=frame.name, row=frame.row))
        if stack and stack[-1].dropped:
            stack[-1].inside += frame.inside + 1
            return
        if frame.kind == "repeat":
            self.warn(SURVEY, frame.row, ngettext(
                "repeats are not supported: the repeat '{name}' (rows {first} to {last}) and "
                "the {count} item inside it are left out",
                "repeats are not supported: the repeat '{name}' (rows {first} to {last}) and "
                "the {count} items inside it are left out", frame.inside).format(
                name=frame.name, first=frame.row, last=row.number, count=frame.inside))
        elif frame.node is not None and not frame.node.children and frame.container is not None:
            frame.container.remove(frame.node)
            self.dropped[frame.name] = (frame.row, _("nothing inside the group is kept"))
            self.warn(SURVEY, frame.row, _(
                "group '{name}' is left out: nothing inside it is kept").format(
                name=frame.name))

    def _inside_dropped(self, stack: list[_Frame], parsed: _Type, row: _Row,
                        name: str | None) -> None:
        outer = next(frame for frame in stack if frame.dropped)
        if name:
            self.dropped[name] = (row.number, _("it is inside the repeat '{name}'").format(
                name=outer.name))
        if parsed.kind in ("repeat", "group"):
            stack.append(_Frame(parsed.structure, row.number, name or "", dropped=True))
        else:
            stack[-1].inside += 1

    def _drop_row(self, sheet: _Sheet, row: _Row, name: str | None, type_text: str,
                  reason: str) -> None:
        if name:
            self.dropped[name] = (row.number, reason)
        self.warn(SURVEY, row.number, _(
            "type '{type}' is not supported ({reason}); the item '{name}' is left out").format(
            type=_shorten(type_text), reason=reason, name=name or ""))
        # Its expressions go with it; say so when they could not have been kept anyway.
        for column in ("relevant", "constraint", "calculation"):
            source = self._expression_text(sheet, row, column)
            if source is None:
                continue
            try:
                parse_expression(source)
            except ExpressionError as problem:
                self.warn(SURVEY, row.number, _(
                    "the {column} of the left-out item '{name}' is not supported either: "
                    "{message}").format(column=column, name=name or "",
                                        message=problem.message))

    def _expression_text(self, sheet: _Sheet, row: _Row, column: str) -> str | None:
        value = self._cell(sheet, row, column)
        if isinstance(value, bool):
            return "true()" if value else "false()"
        return None if value is None else (_as_text(value) or None)

    def _item(self, sheet: _Sheet, row: _Row, name: str, parsed: _Type,
              choice_lists: dict[str, Any]) -> _Node:
        item_type = parsed.item_type
        assert item_type is not None
        node = _Node(row.number, name, {"name": name, "type": item_type.value},
                     children=[] if item_type is ItemType.GROUP else None)
        entry = node.entry
        number = row.number
        if parsed.xlsform_type is not None:
            entry["xlsform_type"] = parsed.xlsform_type
        if parsed.list_name is not None:
            entry["choices"] = parsed.list_name
            external = parsed.xlsform_type == "select_one_external"
            if parsed.list_name in self.refused_lists:
                pass  # reported on the choices sheet
            elif external and parsed.list_name not in self.external_lists:
                self.error(SURVEY, number, _(
                    "'{name}' uses the choice list '{list}', which is not on the "
                    "external_choices sheet").format(name=name, list=parsed.list_name))
            elif parsed.list_name not in choice_lists or (
                    not external and self.list_sheets.get(parsed.list_name)):
                self.error(SURVEY, number, _(
                    "'{name}' uses the choice list '{list}', which is not on the choices "
                    "sheet").format(name=name, list=parsed.list_name))
        if parsed.or_other and parsed.list_name in choice_lists:
            self._add_other_choice(choice_lists[parsed.list_name], parsed.list_name, number)
        for column, key in (("fs_audience", "audience"), ("fs_role", "role"),
                            ("fs_kind", "kind")):
            text = self._text(sheet, row, column)
            if text is not None:
                entry[key] = text.lower()
        pictogram = self._text(sheet, row, "fs_pictogram")
        if pictogram is not None:
            # Checked by the loader against fieldscreen/forms/pictograms.py; its refusal is
            # reported at this row.
            entry["pictogram"] = pictogram
        level = self._text(sheet, row, "fs_level")
        if level is not None:
            entry["level"] = level.upper()
        weight = self._cell(sheet, row, "fs_weight")
        if weight is not None:
            entry["weight"] = _number_or_text(weight)
        red_flag = self._cell(sheet, row, "fs_red_flag")
        if red_flag is not None:
            entry["red_flag"] = _flag(red_flag)
        self._required(sheet, row, node, item_type)
        self._read_only(sheet, row, node, item_type)
        for key in ("label", "hint"):
            texts = self._localized(sheet, row, key)
            if texts:
                entry[key] = texts
                if any("${" in text for text in texts.values()):
                    self.warn(SURVEY, number, _(
                        "the {column} of '{name}' contains ${{...}}; FieldScreen shows it as "
                        "written, without putting answers in").format(column=key, name=name))
        if parsed.xlsform_type == "hidden":
            self._hidden(sheet, row, node)
        self._expressions(sheet, row, node, item_type)
        self._preset(parsed, node)
        self._choice_filter(sheet, row, node, item_type, choice_lists)
        if parsed.xlsform_type != "hidden":
            self._default(sheet, row, node, item_type)
        self._warn_ignored(sheet, row)
        return node

    def _hidden(self, sheet: _Sheet, row: _Row, node: _Node) -> None:
        """pyxform's `hidden`: a value no one sees, its default or nothing. Carried as a
        calculate whose value is that default as text (or empty), marked to be written back
        as `hidden` (docs/decisions.md, 69); one with its own calculation is a calculate."""
        if self._expression_text(sheet, row, "calculation") is not None:
            del node.entry["xlsform_type"]
            self.warn(SURVEY, row.number, _(
                "the hidden '{name}' has a calculation: it is carried as a calculate, and "
                "exported as one").format(name=node.name))
            return
        value = self._cell(sheet, row, "default")
        text = "" if value is None else _as_text(value)
        if "${" in text or "(" in text:
            self.error(SURVEY, row.number, _out_of_scope(_(
                "the default of '{name}' is computed (\"{source}\"); dynamic defaults are "
                "not supported").format(name=node.name, source=_shorten(text, 80))))
            return
        if "'" in text and '"' in text:
            self.error(SURVEY, row.number, _(
                "the default of the hidden '{name}' holds both ' and \"; FieldScreen writes "
                "it as a quoted value: remove one kind of quote").format(name=node.name))
            return
        quote = '"' if "'" in text else "'"
        node.entry["calculation"] = f"{quote}{text}{quote}"

    def _preset(self, parsed: _Type, node: _Node) -> None:
        # pyxform gives `phone number` and `percentage` a constraint (and a hint) of their
        # own, which the row's own constraint or hint replaces: carried the same way, so the
        # question checks and says what ODK's would.
        if parsed.preset_constraint is not None and "constraint" not in node.entry:
            node.entry["constraint"] = parsed.preset_constraint
            node.references.append(
                ("constraint", parse_expression(parsed.preset_constraint).references))
        if parsed.preset_hint is not None and "hint" not in node.entry:
            node.entry["hint"] = {self.default_language: parsed.preset_hint}

    def _default(self, sheet: _Sheet, row: _Row, node: _Node, item_type: ItemType) -> None:
        value = self._cell(sheet, row, "default")
        if value is None or value == "":
            return
        if isinstance(value, dt.datetime) and value.time() == dt.time():
            value = value.date()
        if isinstance(value, dt.date):
            value = value.isoformat()
        if isinstance(value, dt.time):
            value = value.strftime("%H:%M:%S")
        if item_type in (ItemType.NOTE, ItemType.GROUP, ItemType.CALCULATE):
            self.warn(SURVEY, row.number, _(
                "a {type} takes no answer; its default is ignored").format(
                type=item_type.value))
            return
        text = _as_text(value)
        if "${" in text or "(" in text:
            self.error(SURVEY, row.number, _out_of_scope(_(
                "the default of '{name}' is computed (\"{source}\"); dynamic defaults are "
                "not supported").format(name=node.name, source=_shorten(text, 80))))
            return
        if node.entry.get("read_only") and "level" not in node.entry:
            # The form's own value, shown read-only: no one's answer (docs/decisions.md, 73).
            node.entry["default"] = value if item_type in (
                ItemType.INTEGER, ItemType.DECIMAL) and not isinstance(value, str) else text
            return
        if "audience" not in node.entry and "level" not in node.entry:
            # In ODK the person holding the device sees the pre-filled answer and confirms
            # or changes it: the worker. So the question is the worker's (docs/decisions.md,
            # 60), never put to the child with an answer already in it; said, since the
            # wizard then shows it as the worker's and in the worker's language.
            node.entry["audience"] = "worker"
            self.warn(SURVEY, row.number, _(
                "'{name}' has a default answer and no fs_audience: it is the worker's "
                "question (fs_audience worker), shown to the worker pre-filled; a question "
                "put to the child never has a default").format(name=node.name))
        if node.entry.get("audience") != "worker" or "level" in node.entry:
            # docs/decisions.md: a pre-filled answer is never put to the child or scored.
            self.error(SURVEY, row.number, _out_of_scope(_(
                "the default of '{name}': default answers are carried only on the worker's "
                "own questions (fs_audience worker, not indicators), never on a question put "
                "to the child").format(name=node.name)))
            return
        if item_type in (ItemType.INTEGER, ItemType.DECIMAL) and not isinstance(value, str):
            node.entry["default"] = value
        else:
            node.entry["default"] = text

    def _choice_filter(self, sheet: _Sheet, row: _Row, node: _Node,
                       item_type: ItemType, choice_lists: dict[str, Any]) -> None:
        source = self._expression_text(sheet, row, "choice_filter")
        if source is None:
            return
        if not item_type.has_choices:
            self.warn(SURVEY, row.number, _(
                "a {type} offers no choices; its choice_filter is ignored").format(
                type=item_type.value))
            return
        try:
            expression = parse_expression(source, choice_columns=True)
        except ExpressionError as problem:
            self._unrepresentable(row, node.name, "choice_filter", source, problem)
            return
        entries = choice_lists.get(node.entry.get("choices", ""), [])
        present = {"name"}.union(*((entry.get("columns") or {}) for _row, entry in entries))
        values = {value for _row, entry in entries
                  for value in (entry.get("columns") or {}).values()}
        missing = sorted(expression.columns - present)
        if entries and missing:
            # ODK reads a missing column as empty: the filter would offer no choice at all.
            quoted = [word for word in missing if word in values]
            self.error(SURVEY, row.number, _form_mistake(
                _("the choice_filter of '{name}' (\"{source}\") names {columns}, which no "
                  "choice of the list '{list}' has as a column, so no choice would ever be "
                  "offered").format(
                    name=node.name, source=_shorten(source, 80),
                    columns=", ".join(f"'{word}'" for word in missing),
                    list=node.entry["choices"]),
                _("if {words} is a value, put it in quotes ({example}); otherwise add the "
                  "column to the choices sheet").format(
                    words=" / ".join(f"'{word}'" for word in quoted or missing),
                    example=f"= '{(quoted or missing)[0]}'")))
            return
        node.entry["choice_filter"] = source
        node.references.append(("choice_filter", expression.references))

    def _unrepresentable(self, row: _Row, name: str, column: str, source: str,
                         problem: ExpressionError) -> None:
        """An expression that does not parse: the form's own mistake when it is not an
        XLSForm expression either (ODK could not run it), else out of scope."""
        what = _("the {column} of '{name}' (\"{source}\")").format(
            column=column, name=name, source=_shorten(source, 80))
        fix = _expression_mistake(source, choice_filter=column == "choice_filter")
        if fix is not None:
            self.error(SURVEY, row.number, _form_mistake(what, fix))
            return
        self.error(SURVEY, row.number, _out_of_scope(_(
            "the {column} of '{name}' cannot be represented: {message} (at character "
            "{position} of \"{source}\"); FieldScreen supports the expressions listed "
            "in docs/form-format.md").format(
            column=column, name=name, message=problem.message,
            position=problem.position + 1, source=_shorten(source, 80))))

    def _read_only(self, sheet: _Sheet, row: _Row, node: _Node, item_type: ItemType) -> None:
        value = self._cell(sheet, row, "read_only")
        if value is None:
            return
        flag = _flag(value)
        if not isinstance(flag, bool):
            self.error(SURVEY, row.number, _out_of_scope(_(
                "the readonly of '{name}' is a condition (\"{source}\"); read-only under a "
                "condition is not supported").format(
                name=node.name, source=_shorten(_as_text(value), 80))))
        elif flag and (not item_type.takes_answer or item_type is ItemType.ACKNOWLEDGE):
            self.warn(SURVEY, row.number, _(
                "a {type} takes no answer to protect; 'readonly' is ignored").format(
                type=item_type.value))
        elif flag:
            node.entry["read_only"] = True

    def _required(self, sheet: _Sheet, row: _Row, node: _Node, item_type: ItemType) -> None:
        value = self._cell(sheet, row, "required")
        if value is None:
            return
        flag = _flag(value)
        if not isinstance(flag, bool):
            # A condition: required only while it holds (kept as written, like relevant).
            source = _as_text(value)
            if not item_type.takes_answer:
                self.warn(SURVEY, row.number, _(
                    "a {type} cannot be required; 'required' is ignored").format(
                    type=item_type.value))
                return
            try:
                expression = parse_expression(source)
            except ExpressionError as problem:
                self._unrepresentable(row, node.name, "required", source, problem)
                return
            node.entry["required"] = source
            node.references.append(("required", expression.references))
        elif flag and not item_type.takes_answer:
            self.warn(SURVEY, row.number, _(
                "a {type} cannot be required; 'required' is ignored").format(
                type=item_type.value))
        elif flag:
            node.entry["required"] = True

    def _expressions(self, sheet: _Sheet, row: _Row, node: _Node, item_type: ItemType) -> None:
        failed = False
        for column in ("relevant", "constraint", "calculation"):
            source = self._expression_text(sheet, row, column)
            if source is None:
                continue
            if column == "constraint" and not item_type.takes_answer:
                self.warn(SURVEY, row.number, _(
                    "a {type} has no answer to check; its constraint is ignored").format(
                    type=item_type.value))
                continue
            if column == "calculation" and not item_type.takes_answer and (
                    item_type is not ItemType.CALCULATE):
                self.warn(SURVEY, row.number, _(
                    "a {type} has no value to compute; its calculation is ignored").format(
                    type=item_type.value))
                continue
            try:
                expression = parse_expression(source)
            except ExpressionError as problem:
                failed = True
                self._unrepresentable(row, node.name, column, source, problem)
                continue
            node.entry[column] = source
            node.references.append((column, expression.references))
            if column == "constraint":
                message = self._localized(sheet, row, "constraint_message")
                if message:
                    node.entry["constraint_message"] = message
        if item_type is ItemType.CALCULATE and "calculation" not in node.entry and not failed:
            self.error(SURVEY, row.number, _("calculate '{name}' has no calculation").format(
                name=node.name))
        if "constraint" not in node.entry and self._localized(sheet, row, "constraint_message"):
            self.warn(SURVEY, row.number, _(
                "constraint_message without a constraint is ignored"))

    def _check_references(self, items: list[_Node], rules: dict[str, Any]) -> None:
        checks = [(SURVEY, node.row, node.name, column, names)
                  for top in items for node in top.walk() for column, names in node.references]
        if "lowered_when" in rules:
            names = parse_expression(rules["lowered_when"]).references
            checks.append((RULES, self.rule_rows.get("lowered_when", 0), "fs_rules",
                           "lowered_when", names))
        for kind, row, owner, column, names in checks:
            for name in sorted(names & set(self.dropped)):
                where, why = self.dropped[name]
                self.error(kind, row, _(
                    "the {column} of '{owner}' refers to ${{{name}}}, which is left out "
                    "(row {row}: {why}); remove the reference or the form cannot be "
                    "represented").format(column=column, owner=owner, name=name, row=where,
                                          why=why))

