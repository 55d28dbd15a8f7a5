"""The XLSForm corpus check: real workbooks through import, `forms check`, export and pyxform.

pyxform's parse of the original workbook is the oracle. Each workbook ends in one of:

- ``faithful``: imported, `forms check` is clean, the export converts with pyxform and
  pyxform reads the same names, types, relevant, constraint, required, calculation,
  defaults, choice filters, choice lists and labels (per language) in it as in the
  original, and the XForm pyxform makes of the export has the same binds (type, relevant,
  constraint, required, calculate of every field) as the original's;
- ``refused``: not imported, for a reason docs/xlsform.md names as out of scope;
- ``mistake``: not imported for a mistake of the form's own, one ODK could not run either
  (docs/xlsform.md, "Form mistakes");
- ``refused_other``: not imported for some other reason (over-strict; to improve);
- ``wrong``: imported, but something above differs, or the export does not convert.

Run ``python -m tests.xlsform_corpus`` for the counts and the reasons, one line a form.
"""

from __future__ import annotations

import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import check_paths, load_form_text
from fieldscreen.forms.xlsform import export_xlsform, import_xlsform

CORPUS = Path(__file__).resolve().parent / "data" / "xlsform" / "real"

# A refusal for a feature docs/xlsform.md names as out of scope says where it is named.
OUT_OF_SCOPE = 'docs/xlsform.md, "Out of scope"'
# ...and a refusal for a mistake of the form's own, where such mistakes are listed.
FORM_MISTAKES = 'docs/xlsform.md, "Form mistakes"'
# pyxform's metadata that FieldScreen's records stand for (docs/xlsform.md): not compared.
KEPT_OUT_METADATA = frozenset({"start", "end", "today"})
# pyxform's names for one type (its question_type_dictionary gives them the same binding).
TYPE_ALIASES = {"string": "text", "int": "integer", "trigger": "acknowledge",
                "select all that apply": "select multiple",
                # The same binding as `text` / `integer` once the constraint and hint pyxform
                # builds into them are applied to the question (_built_in, below).
                "phone number": "text", "percentage": "integer"}


@dataclass(frozen=True)
class Outcome:
    name: str
    kind: str
    reason: str


@contextmanager
def _quiet() -> Iterator[None]:
    # openpyxl, inside pyxform, warns about workbook extensions; the oracle's noise is not
    # FieldScreen's (its own import runs outside this, where a warning fails the test).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def pyxform_converts(path: Path) -> bool:
    from pyxform.xls2xform import convert

    try:
        with _quiet():
            convert(xlsform=str(path), warnings=[])
    except Exception:  # pyxform refuses in many exception types; any refusal counts
        return False
    return True


def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".xls", ".xlsx"))


def classify(path: Path) -> Outcome:
    from pyxform.xls2json import parse_file_to_json
    from pyxform.xls2xform import convert

    with _quiet():
        oracle = parse_file_to_json(str(path), warnings=[])
    try:
        result = import_xlsform(path)
    except SourceProblems as refused:
        messages = " | ".join(f"{p.line}: {p.message}" for p in refused.problems)
        if OUT_OF_SCOPE in messages:
            return Outcome(_shown(path), "refused", _short(messages))
        if FORM_MISTAKES in messages:
            return Outcome(_shown(path), "mistake", _short(messages))
        return Outcome(_shown(path), "refused_other", _short(messages))
    with tempfile.TemporaryDirectory() as folder:
        native = Path(folder) / "form.yaml"
        native.write_text(result.yaml_text, encoding="utf-8")
        problems = check_paths([native])
        if problems:
            return Outcome(_shown(path), "wrong", f"forms check: {problems[0]}")
        form = load_form_text(result.yaml_text)
        exported = Path(folder) / "export.xlsx"
        export_xlsform(form, result.yaml_text, exported)
        try:
            with _quiet():
                xform = convert(xlsform=str(exported), warnings=[]).xform
                again = parse_file_to_json(str(exported), warnings=[])
        except Exception as error:
            return Outcome(_shown(path), "wrong", f"pyxform refuses the export: {error}")
    expected, got = _questions(oracle), _questions(again)
    difference = _difference(expected, got)
    if difference:
        return Outcome(_shown(path), "wrong", difference)
    with _quiet():
        original = convert(xlsform=str(path), warnings=[]).xform
    difference = _bind_difference(_binds(original), _binds(xform))
    if difference:
        return Outcome(_shown(path), "wrong", difference)
    return Outcome(_shown(path), "faithful", "")


def _shown(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def _short(text: str, limit: int = 160) -> str:
    text = text.replace(str(CORPUS) + "/", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _questions(survey: dict[str, Any]) -> dict[str, dict[str, Any]]:
    default = _language(str(survey.get("default_language") or "default"))
    if default == "default":
        default = "en"  # FieldScreen reads columns without a language as English
    found: dict[str, dict[str, Any]] = {}

    def walk(children: list[dict[str, Any]]) -> None:
        for child in children:
            if child.get("name") == "meta" and child.get("type") == "group":
                continue  # pyxform adds it to every form (instanceID)
            if child.get("type") in KEPT_OUT_METADATA:
                continue
            bind, hint = _built_in(child)
            found[child["name"]] = {
                "type": TYPE_ALIASES.get(str(child.get("type")), child.get("type")),
                "list": child.get("list_name") or child.get("itemset"),
                "relevant": _expression(bind.get("relevant")),
                "constraint": _expression(bind.get("constraint")),
                "required": _required(bind.get("required")),
                "calculation": _expression(bind.get("calculate")),
                "read_only": _required(bind.get("readonly")),
                "default": _expression(child.get("default")),
                "choice_filter": _expression(child.get("choice_filter")),
                "label": _text(child.get("label"), default),
                "hint": _text(hint, default),
                "choices": [(str(c.get("name")), _text(c.get("label"), default))
                            for c in child.get("choices") or []],
            }
            walk(child.get("children") or [])

    walk(survey.get("children") or [])
    return found


def _built_in(child: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The question's bind and hint as pyxform builds them: its type's own bind values and
    hint (question_type_dictionary, e.g. `phone number`'s constraint), unless the row gives
    them, as pyxform's Question merges them; so the XForm's logic is what is compared."""
    from pyxform.question_type_dictionary import QUESTION_TYPE_DICT

    preset = QUESTION_TYPE_DICT.get(str(child.get("type"))) or {}
    bind = {**(preset.get("bind") or {}), **(child.get("bind") or {})}
    hint = child.get("hint") or preset.get("hint")
    return bind, hint


def _expression(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    # pyxform writes the `or_other` follow-up's relevance with a relative path.
    text = re.sub(r"\.\./([A-Za-z_][A-Za-z0-9_.-]*)", r"${\1}", text)
    return re.sub(r"\s+", "", text)


def _required(value: Any) -> str:
    text = re.sub(r"\s+", "", str(value or "")).lower()
    if text in ("", "no", "false", "false()", "0"):
        return "no"
    if text in ("yes", "true", "true()", "1"):
        return "yes"
    return text


def _language(key: str) -> str:
    match = re.search(r"\(([^()]+)\)\s*$", key)
    if match:
        return match.group(1).strip().lower()
    key = key.strip()
    if key.lower() == "default":
        return "default"
    if re.fullmatch(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*", key):
        return key.lower()
    from babel import Locale

    for code in ("en", "fr", "es", "ar", "pt", "sw", "uk", "de", "hi", "ru", "zh"):
        if Locale.parse(code).get_display_name("en").lower() == key.lower():
            return code
    return key.lower()


def _text(value: Any, default: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        texts = {_language(str(k)): str(v).strip() for k, v in value.items() if str(v).strip()}
    else:
        texts = {default: str(value).strip()}
    if "default" in texts and default != "default":
        texts.setdefault(default, texts.pop("default"))
    return texts


def _same_text(a: dict[str, str], b: dict[str, str]) -> bool:
    if a == b:
        return True
    # One language on each side: its name may be "default" on one and a code on the other.
    return len(a) == len(b) == 1 and next(iter(a.values())) == next(iter(b.values()))


def _difference(expected: dict[str, dict[str, Any]], got: dict[str, dict[str, Any]]) -> str:
    missing = [name for name in expected if name not in got]
    if missing:
        return f"left out: {', '.join(missing[:6])}"
    added = [name for name in got if name not in expected]
    if added:
        return f"added: {', '.join(added[:6])}"
    for name, want in expected.items():
        have = got[name]
        for key, value in want.items():
            if key in ("label", "hint"):
                if not _same_text(value, have[key]):
                    return f"{name}: {key} {value!r} became {have[key]!r}"
            elif key == "choices":
                if [c for c, _t in value] != [c for c, _t in have[key]]:
                    return f"{name}: choices {[c for c, _t in value]} became " \
                           f"{[c for c, _t in have[key]]}"
                for (choice, text), (_c, other) in zip(value, have[key], strict=True):
                    if not _same_text(text, other):
                        return f"{name}: choice {choice} label {text!r} became {other!r}"
            elif value != have[key]:
                return f"{name}: {key} {value!r} became {have[key]!r}"
    return ""


def _binds(xform: str) -> list[str]:
    """The XForm's binds (type, relevant, constraint, required, calculate... of each field),
    as ODK runs them: a second check, beside the parse, that the export means the same."""
    root = re.search(r"<instance>\s*<([\w.-]+)", xform)
    found = []
    for bind in re.findall(r"<bind [^>]*>", xform):
        if "/meta/instanceName" in bind:
            continue  # the `instance_name` setting: FieldScreen names records itself
        # Messages are compared as labels are (translated ones become itext references).
        bind = re.sub(r'\s(?:jr:constraintMsg|jr:requiredMsg)="[^"]*"', "", bind)
        if root is not None:
            # A path to a field is its name (names are unique): `../sex` and ` /data/sex `.
            bind = re.sub(rf"\s*/{re.escape(root.group(1))}(?:/[\w.-]+)*/([\w.-]+)\s*",
                          r"\1", bind)
        bind = re.sub(r"(?:\.\./)+([\w.-]+)", r"\1", bind)
        # XML gives attribute order no meaning (pyxform writes them in column order).
        attributes = sorted(re.sub(r"\s+", "", attribute) for attribute in
                            re.findall(r'[\w:.-]+\s*=\s*"[^"]*"', bind))
        found.append("<bind " + " ".join(attributes) + "/>")
    return sorted(found)


def _bind_difference(expected: list[str], got: list[str]) -> str:
    missing = [bind for bind in expected if bind not in got]
    added = [bind for bind in got if bind not in expected]
    if missing or added:
        return f"XForm binds differ: {missing[:2]} became {added[:2]}"
    return ""


def uses_repeats(path: Path) -> bool:
    """Whether pyxform reads a repeat (or a loop) in the workbook."""
    from pyxform.xls2json import parse_file_to_json

    def walk(children: list[dict[str, Any]]) -> bool:
        return any(child.get("type") in ("repeat", "loop") or walk(child.get("children") or [])
                   for child in children)

    with _quiet():
        survey = parse_file_to_json(str(path), warnings=[])
    return walk(survey.get("children") or [])


def main() -> int:
    paths = corpus()
    outcomes = [classify(path) for path in paths]
    for outcome in outcomes:
        print(f"{outcome.kind:14} {outcome.name}  {outcome.reason}")
    counts = {kind: sum(o.kind == kind for o in outcomes)
              for kind in ("faithful", "refused", "mistake", "refused_other", "wrong")}
    print(" ".join(f"{kind}={count}" for kind, count in counts.items()), f"of {len(outcomes)}")
    plain = [o for o, p in zip(outcomes, paths, strict=True) if not uses_repeats(p)]
    faithful = sum(o.kind == "faithful" for o in plain)
    print(f"without repeats: {faithful} of {len(plain)} faithful")
    return 0


if __name__ == "__main__":
    sys.exit(main())
