"""Hypothesis profiles for the fuzz suite, and the property every parser must keep.

The suite runs in two profiles:

* ``fuzz-ci`` (the default): few, derandomized examples per target, so the whole of
  tests/fuzz runs in well under a minute on two shared cores, the same examples every run.
* ``fuzz-long``, chosen with ``FIELDSCREEN_FUZZ=long``: thirty times the examples, new random
  ones each run (tests/fuzz/README.md gives the command and the last run's result).

The profiles are applied to each fuzz test through `fuzz_settings`, never loaded globally:
loading one would change the examples and deadlines of the property tests in tests/unit.
Neither profile keeps an example database, so a run writes nothing into the work tree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

from fieldscreen.errors import SourceProblems, UserError

LONG = os.environ.get("FIELDSCREEN_FUZZ", "").strip().lower() == "long"
# How many times more examples the long profile runs.
LONG_FACTOR = 30

settings.register_profile(
    "fuzz-ci",
    deadline=dt.timedelta(seconds=2),
    database=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)
settings.register_profile(
    "fuzz-long",
    parent=settings.get_profile("fuzz-ci"),
    derandomize=False,
)
PROFILE = settings.get_profile("fuzz-long" if LONG else "fuzz-ci")

# Anything one example takes longer than this is a hang, reported as a finding (the
# deadline above reports the slow ones; this stops the ones that would never return).
HANG_SECONDS = 30.0


def fuzz_settings(examples: int, **overrides: Any) -> settings:
    """The active profile for one target: `examples` in CI, LONG_FACTOR times more when long."""
    return settings(PROFILE, max_examples=examples * (LONG_FACTOR if LONG else 1), **overrides)


class Hang(Exception):
    """A parser ran longer than HANG_SECONDS on one input."""


@contextlib.contextmanager
def bounded_time(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Raise `Hang` in the main thread if the block runs longer than `seconds`."""

    def expired(_signum: int, _frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def bounded_memory(limit_bytes: int) -> Iterator[None]:
    """Fail if Python allocations inside the block peak above `limit_bytes`."""
    tracemalloc.start()
    try:
        yield
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= limit_bytes, f"peak {peak >> 20} MiB over the {limit_bytes >> 20} MiB bound"


# Signs of a bug's text leaking into a person's message.
_LEAKS = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"
                    r"| object at 0x[0-9a-f]+|<built-in |\bNoneType\b")


# A message may quote what it refuses, but not a whole hostile input.
MAX_MESSAGE_CHARACTERS = 20_000


def check_message(text: object, *, limit: int | None = MAX_MESSAGE_CHARACTERS) -> None:
    """A message a person reads: non-empty text, no traceback or Python internals."""
    assert isinstance(text, str), type(text)
    assert text.strip(), "empty message"
    assert not _LEAKS.search(text), text[:500]
    assert limit is None or len(text) <= limit, f"a message of {len(text)} characters"


def check_user_error(error: UserError) -> None:
    """The error a person sees is clean; located problems each carry their own message."""
    # SourceProblems joins its problems: each is bounded below, not the whole list.
    check_message(error.message, limit=None if isinstance(error, SourceProblems)
                  else MAX_MESSAGE_CHARACTERS)
    if error.hint is not None:
        check_message(error.hint)
    if isinstance(error, SourceProblems):
        assert error.problems, "SourceProblems without a problem"
        for problem in error.problems:
            assert problem.line >= 0, problem
            check_message(problem.message)


T = TypeVar("T")


def parse_or_refuse(call: Callable[[], T], refusal: type[Exception] = UserError
                    ) -> T | Exception:
    """Run one parser call on hostile input: it returns, or raises `refusal` (checked clean).

    Anything else (KeyError, TypeError, RecursionError, MemoryError, a hang...) propagates
    and fails the example: that is a finding.
    """
    with bounded_time():
        try:
            return call()
        except refusal as error:
            if isinstance(error, UserError):
                check_user_error(error)
            return error
