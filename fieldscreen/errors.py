"""The two kinds of failure: a person's or environment's problem (UserError) versus a bug.

A UserError carries a translated message that says what went wrong and what to do next;
it is shown as it is and never with a traceback. Anything else escaping to the top is a
bug and is reported as one (without echoing data that could identify a child).
"""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """A problem the person can fix. `message` is already translated.

    Args:
        message: What went wrong, in plain words, translated.
        hint: What to do next, translated; optional when the message already says it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """One problem in a file a person wrote, located by file and line."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class SourceProblems(UserError):
    """One or more located problems in files a person wrote (forms, services, answers)."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
