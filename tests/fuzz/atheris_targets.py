"""Coverage-guided fuzzing of three parsers with atheris (libFuzzer), outside pytest.

Run one target for a while, for example::

    .venv/bin/pip install atheris
    .venv/bin/python -m tests.fuzz.atheris_targets form -max_total_time=300 -rss_limit_mb=2048

Targets: ``form`` (form file text), ``expression`` (expression source, then evaluation),
``pack`` (deployment pack bytes). The property is the suite's: a clean refusal or a
result, anything else is a crash that libFuzzer saves as ``crash-*`` in the current folder.
Give a folder after the target to keep and grow a corpus between runs. atheris is not a
test dependency; pytest does not collect this file (its name does not start with test_).
"""

from __future__ import annotations

import datetime as dt
import sys

import atheris

with atheris.instrument_imports(include=["fieldscreen"]):
    from fieldscreen.errors import UserError
    from fieldscreen.exchange.pack import PackRefused, read_pack
    from fieldscreen.forms.expressions import ExpressionError, parse_expression
    from fieldscreen.forms.loader import load_form_text

from tests.fuzz.conftest import bounded_time, check_user_error


def _text(data: bytes) -> str:
    # Encoded surrogates (ED A0 80) decode to lone surrogates, as JSON escapes in a pack do.
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def fuzz_form(data: bytes) -> None:
    try:
        with bounded_time(10):
            load_form_text(_text(data), "atheris.yaml")
    except UserError as error:
        check_user_error(error)


def fuzz_expression(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    source = provider.ConsumeUnicodeNoSurrogates(200)
    values = {name: provider.PickValueInList(
        [None, True, 0, -1, 1.5, 10**30, "", "a b", "2020-02-30", ("a", "b"),
         dt.date(2020, 1, 31), provider.ConsumeUnicodeNoSurrogates(20)])
        for name in ("a", "b", "c")}
    try:
        expression = parse_expression(source)
    except ExpressionError as error:
        assert error.message and 0 <= error.position <= len(source)
        return
    with bounded_time(10):
        expression.evaluate(values.get, values["a"], lambda: dt.date(2026, 3, 1))


def fuzz_pack(data: bytes) -> None:
    try:
        with bounded_time(10):
            read_pack(data)
    except PackRefused as error:
        check_user_error(error)


TARGETS = {"form": fuzz_form, "expression": fuzz_expression, "pack": fuzz_pack}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.atheris_targets {{{','.join(TARGETS)}}} "
                 "[corpus folder] [libFuzzer options]")
    target = TARGETS[argv.pop(1)]
    atheris.Setup(argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
