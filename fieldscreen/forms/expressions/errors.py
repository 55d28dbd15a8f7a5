"""ExpressionError: what is wrong with an expression's source, and where."""

from __future__ import annotations


class ExpressionError(Exception):
    """Bad expression source.

    Args:
        message: What is wrong, translated for the person who wrote the form.
        position: 0-based character offset into the source where the problem is.
    """

    def __init__(self, message: str, position: int) -> None:
        # Both go to args so the exception survives pickling (e.g. across processes).
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message

