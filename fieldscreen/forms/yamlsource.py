"""Reads the strict YAML dialect of form files into plain data that remembers its line numbers.

Plain PyYAML would turn the choice names `yes` and `no` into booleans, accept duplicate keys
silently and honour anchors; none of that is wanted in a file people author by hand, and
every problem must be reported as `file:line`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fieldscreen.errors import SourceProblem, SourceProblems
from fieldscreen.files import read_regular_file
from fieldscreen.i18n import _

MAX_SOURCE_BYTES = 2 * 1024 * 1024

_BOOL_TAG = "tag:yaml.org,2002:bool"


class LocatedMap(dict):
    """A mapping from a source file: `line` is where it starts, `key_lines` where each key is."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    """A sequence from a source file: `line` is where it starts, `item_lines` for each entry."""

    line: int
    item_lines: list[int]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no duplicate keys, no anchors, aliases or tags."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(
                problem=_("aliases (*name) are not allowed in form files"),
                problem_mark=event.start_mark,
            )
        if getattr(event, "anchor", None) is not None:
            raise yaml.MarkedYAMLError(
                problem=_("anchors (&name) are not allowed in form files"),
                problem_mark=event.start_mark,
            )
        if getattr(event, "tag", None) not in (None, "!"):
            raise yaml.MarkedYAMLError(
                problem=_("tags (!name) are not allowed in form files"),
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> LocatedMap:
        result = LocatedMap()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise yaml.MarkedYAMLError(
                    problem=_("the key '{key}' appears twice").format(key=key),
                    problem_mark=key_node.start_mark,
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: Any, deep: bool = False) -> LocatedList:
        result = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _as_text_when_unbuildable(construct: Any) -> Any:
    """`construct`, keeping the scalar as text when Python cannot build its value.

    An integer of more than 4300 digits or a date such as 2026-02-30 looks like a number or
    a date to YAML, but int() and date() refuse it with a bare ValueError. As text it
    reaches the readers, which say where a number or text was expected.
    """

    def construct_or_text(loader: Any, node: Any) -> Any:
        try:
            return construct(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    return construct_or_text


def _yaml_12_booleans() -> None:
    # Only `true` and `false` are booleans; `yes`, `no`, `on`, `off` stay strings.
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != _BOOL_TAG]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _StrictLoader.yaml_implicit_resolvers = resolvers
    _StrictLoader.add_implicit_resolver(
        _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    for tag in (_INT_TAG, _TIMESTAMP_TAG):
        _StrictLoader.add_constructor(tag, _as_text_when_unbuildable(
            yaml.SafeLoader.yaml_constructors[tag]))
    _StrictLoader.add_constructor(
        "tag:yaml.org,2002:map", _StrictLoader.construct_mapping
    )
    _StrictLoader.add_constructor(
        "tag:yaml.org,2002:seq", _StrictLoader.construct_sequence
    )


_yaml_12_booleans()


class Quoted:
    """A value from a file, for a problem message: at most `limit` characters of it.

    Messages quote what they refuse (``found {found!r}``, ``unknown key '{key}'``); a key
    or value of a megabyte would make a message nobody can read. Both ``{x}`` and ``{x!r}``
    placeholders take it, so the translated texts stay as they are.
    """

    __slots__ = ("_repr", "_str")

    def __init__(self, value: object, limit: int = 60) -> None:
        self._str = _cut(value if isinstance(value, str) else _safe_repr(value), limit)
        self._repr = _cut(_safe_repr(value), limit)

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._repr

    def __format__(self, spec: str) -> str:
        return format(self._str, spec)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except (ValueError, RecursionError):  # an int past the digit limit, deep nesting
        return "..."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_source_text(path: Path) -> str:
    """The UTF-8 text of a form-like file, or SourceProblems saying why it cannot be read."""
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise SourceProblems(
                [
                    SourceProblem(
                        shown,
                        1,
                        _("the file is larger than {limit} MiB; split it or remove media").format(
                            limit=MAX_SOURCE_BYTES // (1024 * 1024)
                        ),
                    )
                ]
            )
        raw = read_regular_file(path)
    except FileNotFoundError:
        raise SourceProblems(
            [SourceProblem(shown, 0, _("no such file; check the path"))]
        ) from None
    except IsADirectoryError:
        raise SourceProblems(
            [SourceProblem(shown, 0, _("this is a folder, not a form file"))]
        ) from None
    except OSError as error:
        raise SourceProblems(
            [SourceProblem(shown, 0, _("cannot read the file: {reason}").format(
                reason=error.strerror or error))]
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SourceProblems(
            [SourceProblem(shown, line, _("the file is not UTF-8 text; save it as UTF-8"))]
        ) from None


MAX_NESTING = 64
# A lone surrogate is a str no UTF-8 file can hold; it reaches here from JSON escapes
# ("\ud800" in a deployment pack) and libyaml fails on it with a bare UnicodeEncodeError.
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_yaml(text: str, shown_path: str) -> Any:
    """Parse `text` in the strict dialect; problems are raised as SourceProblems."""
    if len(text) > MAX_SOURCE_BYTES:
        # Text from a deployment pack gets the limit a file gets in read_source_text (a
        # character is at least a byte); parsing time grows with the size.
        raise SourceProblems([SourceProblem(shown_path, 1, _(
            "the file is larger than {limit} MiB; split it or remove media").format(
            limit=MAX_SOURCE_BYTES // (1024 * 1024)))])
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        line = text.count("\n", 0, surrogate.start()) + 1
        raise SourceProblems(
            [SourceProblem(shown_path, line, _("the file is not UTF-8 text; save it as UTF-8"))]
        )
    try:
        if yaml.__with_libyaml__:
            return _build_from_events(text)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = error.problem or error.context or _("not valid YAML")
        raise SourceProblems(
            [SourceProblem(shown_path, line, _("YAML: {problem}").format(problem=problem))]
        ) from None
    except yaml.YAMLError as error:
        raise SourceProblems(
            [SourceProblem(shown_path, 1, _("YAML: {problem}").format(problem=error))]
        ) from None
    except RecursionError:
        raise SourceProblems(
            [SourceProblem(shown_path, 1, _("YAML: the file is nested too deeply"))]
        ) from None


class _FastLoader(yaml.CSafeLoader):  # type: ignore[misc,name-defined]
    """libyaml's C parser with the strict dialect's resolvers; only its events are used."""


if yaml.__with_libyaml__:
    _FastLoader.yaml_implicit_resolvers = _StrictLoader.yaml_implicit_resolvers
    for _tag in (_INT_TAG, _TIMESTAMP_TAG):
        _FastLoader.add_constructor(_tag, _StrictLoader.yaml_constructors[_tag])

# The first characters some implicit type (a number, a date, a boolean, null) can start
# with; a plain scalar starting with any other is text. No resolver applies to every first
# character (a None key), which the fast path in _build_from_events relies on.
_RESOLVED_FIRST = frozenset(key for key in _StrictLoader.yaml_implicit_resolvers if key)
assert None not in _StrictLoader.yaml_implicit_resolvers


def _refuse(problem: str, event: Any) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=event.start_mark)


def _build_from_events(text: str) -> Any:
    """Build located data from libyaml's event stream, iteratively.

    libyaml parses in C (the pure-Python scanner is ten times slower on large forms), but its
    composer recurses in C and crashes the process on deeply nested input, so the tree is
    built here, with the strict dialect's checks and a nesting limit.
    """
    loader = _FastLoader(text)
    try:
        stack: list[Any] = []  # containers being filled
        pending_keys: list[Any] = []  # per mapping: the key waiting for its value, or _NO_KEY
        root: Any = None
        documents = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                raise _refuse(_("aliases (*name) are not allowed in form files"), event)
            if getattr(event, "anchor", None) is not None:
                raise _refuse(_("anchors (&name) are not allowed in form files"), event)
            tag = getattr(event, "tag", None)
            if isinstance(event, yaml.ScalarEvent):
                if tag not in (None, "!"):
                    raise _refuse(_("tags (!name) are not allowed in form files"), event)
                text_value = event.value
                if not event.implicit[0] or (text_value and text_value[0] not in _RESOLVED_FIRST):
                    # Text for certain (quoted, or no implicit type starts with this
                    # character): what resolve() and construct_object() would return, at a
                    # fraction of the cost; most of a form's scalars are such text.
                    value = text_value
                else:
                    node = yaml.ScalarNode(
                        loader.resolve(yaml.ScalarNode, text_value, event.implicit),
                        text_value, event.start_mark, event.end_mark, event.style)
                    value = loader.construct_object(node)
                line = event.start_mark.line + 1
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if tag not in (None, "!"):
                    raise _refuse(_("tags (!name) are not allowed in form files"), event)
                if len(stack) >= MAX_NESTING:
                    raise _refuse(_("the file is nested too deeply"), event)
                line = event.start_mark.line + 1
                if isinstance(event, yaml.MappingStartEvent):
                    value = LocatedMap()
                    value.line = line
                    value.key_lines = {}
                else:
                    value = LocatedList()
                    value.line = line
                    value.item_lines = []
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                finished = stack.pop()
                pending_keys.pop()
                if not stack:
                    root = finished
                continue
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _refuse(_("a form file holds one YAML document"), event)
                continue
            else:  # stream start/end, document end
                continue

            if stack:
                _attach(stack[-1], pending_keys, value, line, event)
            elif not isinstance(value, LocatedMap | LocatedList):
                root = value
            if isinstance(value, LocatedMap | LocatedList):
                stack.append(value)
                pending_keys.append(_NO_KEY)
        return root
    finally:
        loader.dispose()


_NO_KEY = object()


def _attach(parent: Any, pending_keys: list[Any], value: Any, line: int, event: Any) -> None:
    if isinstance(parent, LocatedList):
        parent.append(value)
        parent.item_lines.append(line)
        return
    key = pending_keys[-1]
    if key is _NO_KEY:
        if isinstance(value, LocatedMap | LocatedList):
            raise _refuse(_("a key must be plain text, not a list or mapping"), event)
        key = value if isinstance(value, str) else str(value)
        if key in parent:
            raise _refuse(_("the key '{key}' appears twice").format(key=key), event)
        parent.key_lines[key] = line
        pending_keys[-1] = key
    else:
        parent[key] = value
        pending_keys[-1] = _NO_KEY
