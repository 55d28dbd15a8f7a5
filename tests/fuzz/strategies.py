"""Hostile inputs for fuzz targets: odd text, JSON-like values, mutations of valid documents.

Structure-aware fuzzing starts from a document the parser accepts (the shipped form, a real
batch...) and changes a few things in it, so most examples get past the first checks and
reach the deeper code; raw fuzzing (random text or bytes) covers the first checks
themselves. Every mutation is drawn through Hypothesis, so a failing example shrinks to the
one change that matters.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

import yaml
from hypothesis import strategies as st

# Characters that have broken parsers before: NUL and controls, a lone surrogate, the byte
# order mark, right-to-left and zero-width marks, a line separator, combining marks, emoji,
# and letters whose upper or lower case is longer than they are.
ODD_CHARACTERS = ("\x00", "\x01", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\ufeff", "\u202e",
                  "\u200f", "\u200b", "\u2028", "\u0301", "\U0001f600", "ß", "İ", "ﬃ", "\t",
                  "\r", "\n", "\\", "'", '"', "$", "{", "}", "[", "]", ":", "#", "&", "*", "!",
                  "%", "|", ">", "-", "?", ",", "`", "@")

# Whole values that mean something to some parser: YAML's special words and numbers, JSON
# keywords, numbers past every limit, near-miss names of this project's formats.
SPECIAL_STRINGS = (
    "", " ", "~", "null", "Null", "true", "false", "yes", "no", "on", "off", "y", "n", "NaN",
    ".nan", ".inf", "-.inf", "Infinity", "-0", "0x1F", "0o17", "1_000", "1e999", "-1e999",
    "9" * 5000, "1" + "0" * 400, "2026-02-30", "2026-03-01T09:00:00Z", "12:30:00",
    "fieldscreen-form/1", "fieldscreen-services/1", "fieldscreen-scenario/1",
    "fieldscreen-pack/1", "fieldscreen-batch/1", "fieldscreen-receipt/1", "${", "${a}", "(",
    ")" * 3, "'", '"', "\\", "\x00", "\ud800", "\u202eevil", "A" * 300, "é" * 70,
    "--- !!python/object:os.system", "&a [*a, *a]", "<<: *a", "? [a]\n: b",
)

HUGE_NUMBERS = (2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**30),
                10**4000, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan, 0.1, -0.0)


def odd_text(max_size: int = 40, *, utf8: bool = False) -> st.SearchStrategy[str]:
    """Text with any code point (lone surrogates included unless `utf8`), odd characters
    and special words."""
    characters = st.one_of(st.characters(exclude_categories=()), st.sampled_from(ODD_CHARACTERS))
    text = st.one_of(
        st.text(characters, max_size=max_size),
        st.sampled_from(SPECIAL_STRINGS),
        st.lists(st.sampled_from(SPECIAL_STRINGS + ODD_CHARACTERS), max_size=6).map("".join),
    )
    return text.map(lambda value: _SURROGATES.sub("\ufffd", value)) if utf8 else text


_SURROGATES = re.compile("[\ud800-\udfff]")


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_NUMBERS),
        st.floats(allow_nan=True, allow_infinity=True), odd_text(),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON-like values (as json.loads gives them, plus what only Python can hold)."""
    keys = odd_text(12)
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(keys, inner, max_size=4)),
        max_leaves=max_leaves,
    )


def _deep(value: Any, depth: int, as_list: bool) -> Any:
    for _level in range(depth):
        value = [value] if as_list else {"a": value}
    return value


# -- trees ----------------------------------------------------------------------------------


def _slots(tree: Any, limit: int = 5000) -> list[tuple[Any, Any]]:
    """(container, key or index) for every value in `tree`, breadth first."""
    found: list[tuple[Any, Any]] = []
    queue = [tree]
    while queue and len(found) < limit:
        node = queue.pop(0)
        if isinstance(node, dict):
            pairs = list(node.items())
        elif isinstance(node, list):
            pairs = list(enumerate(node))
        else:
            continue
        for key, value in pairs:
            found.append((node, key))
            queue.append(value)
    return found


_TREE_OPS = ("delete", "replace", "retype", "duplicate", "unknown_key", "deepen", "long_text",
             "huge_number", "rename", "empty")


def mutate_tree(data: st.DataObject, tree: Any, *, max_mutations: int = 3) -> Any:
    """A deep copy of `tree` (nested dicts and lists) with a few hostile changes."""
    tree = copy.deepcopy(tree)
    count = data.draw(st.integers(1, max_mutations), label="mutations")
    for _round in range(count):
        slots = _slots(tree)
        op = data.draw(st.sampled_from(_TREE_OPS), label="op")
        if not slots:
            return data.draw(json_values(), label="new root")
        container, key = slots[data.draw(st.integers(0, len(slots) - 1), label="slot")]
        value = container[key]
        if op == "delete":
            del container[key]
        elif op == "replace":
            container[key] = data.draw(json_values(), label="value")
        elif op == "retype":
            container[key] = data.draw(st.sampled_from(
                [None, True, False, 0, -1, 1.5, "", "text", [], {}, [value], {"a": value},
                 _as_text(value)]), label="retyped")
        elif op == "duplicate":
            # The same object twice, not a copy: copying a value made deep by an earlier
            # round would recurse, and how deep the stack already is must not matter.
            if isinstance(container, list):
                container.insert(key, value)
            else:
                container[f"{key}_"] = value
        elif op == "unknown_key":
            if isinstance(container, dict):
                container[data.draw(odd_text(12), label="key")] = data.draw(json_values())
            else:
                container.append(data.draw(json_values(), label="item"))
        elif op == "deepen":
            depth = data.draw(st.sampled_from([2, 30, 70, 200, 1200, 5000]), label="depth")
            container[key] = _deep(value, depth, data.draw(st.booleans(), label="list"))
        elif op == "long_text":
            size = data.draw(st.sampled_from([100, 5000, 70_000, 1_100_000]), label="size")
            container[key] = data.draw(st.sampled_from(["x", "é", "${a}", "\u202e", " "])) * size
        elif op == "huge_number":
            container[key] = data.draw(st.sampled_from(HUGE_NUMBERS), label="number")
        elif op == "rename":
            if isinstance(container, dict):
                container[data.draw(odd_text(12), label="name")] = container.pop(key)
        else:  # empty a container, or a text
            container[key] = type(value)() if isinstance(value, dict | list | str) else None
    return tree


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | float) or (
            isinstance(value, int) and abs(value) < 10**100):
        return str(value)
    return "text"


def to_plain(value: Any) -> Any:
    """Located YAML data (dict and list subclasses) as plain dicts and lists."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value


def dump_json(value: Any, *, ascii_only: bool = True) -> str:
    """JSON text of `value`, however deeply nested (json.dumps recurses), NaN and all."""
    encode = (json.encoder.encode_basestring_ascii if ascii_only
              else json.encoder.encode_basestring)
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            parts.append(item.text)
        elif isinstance(item, dict):
            tokens: list[Any] = [_Token("{")]
            for index, (key, inner) in enumerate(item.items()):
                tokens += [_Token(("," if index else "") + encode(str(key)) + ":"), inner]
            stack.extend(reversed([*tokens, _Token("}")]))
        elif isinstance(item, list | tuple):
            tokens = [_Token("[")]
            for index, inner in enumerate(item):
                tokens += [_Token(",")] if index else []
                tokens.append(inner)
            stack.extend(reversed([*tokens, _Token("]")]))
        elif isinstance(item, str):
            parts.append(encode(item))
        elif item is None or isinstance(item, bool):
            parts.append(json.dumps(item))
        elif isinstance(item, int):
            parts.append(int.__repr__(item) if abs(item) < 10**4000 else "1" + "0" * 4000)
        elif isinstance(item, float):
            parts.append(json.dumps(item))  # NaN, Infinity, -Infinity as Python writes them
        else:
            parts.append(encode(str(item)))
    return "".join(parts)


class _Token:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def dump_yaml(value: Any) -> str:
    """Block-style YAML of `value` when the emitter manages it, else JSON (which YAML reads)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    try:
        return yaml.dump(value, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100)
    except (RecursionError, yaml.YAMLError, UnicodeError, ValueError):
        return dump_json(value)


# -- text and bytes -------------------------------------------------------------------------


_TEXT_OPS = ("delete_line", "duplicate_line", "swap_lines", "insert", "delete_span", "replace",
             "truncate", "indent", "dedent", "new_line")


def mutate_text(data: st.DataObject, text: str, *, max_mutations: int = 3) -> str:
    """`text` with a few line- or character-level changes (duplicate keys, odd characters...)."""
    count = data.draw(st.integers(1, max_mutations), label="text mutations")
    for _round in range(count):
        lines = text.split("\n")
        op = data.draw(st.sampled_from(_TEXT_OPS), label="text op")
        line = data.draw(st.integers(0, max(0, len(lines) - 1)), label="line")
        position = data.draw(st.integers(0, len(text)), label="position")
        if op == "delete_line" and lines:
            del lines[line]
        elif op == "duplicate_line" and lines:
            lines.insert(line, lines[line])
        elif op == "swap_lines" and len(lines) > 1:
            other = data.draw(st.integers(0, len(lines) - 1), label="other line")
            lines[line], lines[other] = lines[other], lines[line]
        elif op == "insert":
            return text[:position] + data.draw(odd_text(), label="inserted") + text[position:]
        elif op == "delete_span":
            end = data.draw(st.integers(position, min(len(text), position + 200)), label="end")
            text = text[:position] + text[end:]
            continue
        elif op == "replace" and position < len(text):
            character = data.draw(st.sampled_from(ODD_CHARACTERS), label="character")
            text = text[:position] + character + text[position + 1:]
            continue
        elif op == "truncate":
            text = text[:position]
            continue
        elif op == "indent" and lines:
            lines[line] = " " * data.draw(st.integers(1, 9), label="spaces") + lines[line]
        elif op == "dedent" and lines:
            lines[line] = lines[line].lstrip()
        elif op == "new_line":
            lines.insert(line, data.draw(odd_text(), label="key") + ": "
                         + data.draw(odd_text(), label="value"))
        text = "\n".join(lines)
    return text


_BYTE_OPS = ("flip", "insert", "delete", "truncate", "duplicate", "interesting")


def mutate_bytes(data: st.DataObject, raw: bytes, *, max_mutations: int = 3) -> bytes:
    """`raw` with a few byte-level changes."""
    count = data.draw(st.integers(1, max_mutations), label="byte mutations")
    for _round in range(count):
        op = data.draw(st.sampled_from(_BYTE_OPS), label="byte op")
        position = data.draw(st.integers(0, len(raw)), label="offset")
        if op == "flip" and position < len(raw):
            mask = data.draw(st.integers(1, 255), label="mask")
            raw = raw[:position] + bytes([raw[position] ^ mask]) + raw[position + 1:]
        elif op == "insert":
            raw = raw[:position] + data.draw(st.binary(min_size=1, max_size=16)) + raw[position:]
        elif op == "delete":
            end = data.draw(st.integers(position, min(len(raw), position + 64)), label="end")
            raw = raw[:position] + raw[end:]
        elif op == "truncate":
            raw = raw[:position]
        elif op == "duplicate":
            end = data.draw(st.integers(position, min(len(raw), position + 64)), label="end")
            raw = raw[:end] + raw[position:end] + raw[end:]
        elif op == "interesting" and position < len(raw):
            byte = data.draw(st.sampled_from([0x00, 0x0A, 0x22, 0x5C, 0x7F, 0x80, 0xC0, 0xFF]))
            raw = raw[:position] + bytes([byte]) + raw[position + 1:]
    return raw
