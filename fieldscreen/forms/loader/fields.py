"""Reading one value of a form file: keys, text, numbers, truth values, localized text,
expressions; each problem is collected with its line.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType

from fieldscreen.errors import SourceProblem
from fieldscreen.forms.expressions import (
    Expression,
    ExpressionError,
    parse_expression,
)
from fieldscreen.forms.schema import (
    LocalizedText,
)
from fieldscreen.forms.yamlsource import (
    LocatedMap,
    Quoted,
)
from fieldscreen.i18n import _


class FieldReader:
    """Reads single values out of parsed YAML mappings, collecting located problems."""

    def __init__(self, shown_path: str, source: Path | None = None) -> None:
        self.shown_path = shown_path
        self.source = source
        self.problems: list[SourceProblem] = []
        self.languages: tuple[str, ...] = ()
        self.default_language = "en"

    # -- problem reporting -------------------------------------------------------------

    def problem(self, line: int, message: str) -> None:
        self.problems.append(SourceProblem(self.shown_path, line, message))

    # -- small readers -----------------------------------------------------------------

    def _unknown_keys(self, data: LocatedMap, allowed: frozenset[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(
                    data.line_of(key),
                    _("unknown key '{key}' in {where}; allowed keys are: {allowed}").format(
                        key=Quoted(key), where=where, allowed=", ".join(sorted(allowed))
                    ),
                )

    def _string(self, data: LocatedMap, key: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(data.line, _("'{key}' is missing").format(key=key))
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(data.line_of(key), _("'{key}' must be text").format(key=key))
            return None
        return str(value)

    def _number(
        self, data: LocatedMap, key: str, default: float | None, *, minimum: float = 0.0,
        maximum: float = math.inf, whole: bool = False,
    ) -> float | None:
        value = data.get(key, default)
        if value is None:
            self.problem(data.line, _("'{key}' is missing").format(key=key))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            self.problem(data.line_of(key), _("'{key}' must be a number").format(key=key))
            return None
        if whole and value != int(value):
            self.problem(data.line_of(key), _("'{key}' must be a whole number").format(key=key))
            return None
        if not minimum <= value <= maximum:
            self.problem(
                data.line_of(key),
                _("'{key}' must be between {low} and {high}").format(
                    key=key, low=minimum, high=maximum
                ),
            )
            return None
        return float(value)

    def _bool(self, data: LocatedMap, key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.problem(
                data.line_of(key),
                _("'{key}' must be true or false (found {found!r})").format(
                    key=key, found=Quoted(value)),
            )
            return False
        return value

    def _text(self, data: LocatedMap, key: str, line: int) -> LocalizedText:
        value = data.get(key)
        if value is None:
            return LocalizedText()
        line = data.line_of(key)
        if isinstance(value, str):
            return LocalizedText(MappingProxyType({self.default_language: value}))
        if not isinstance(value, LocatedMap):
            self.problem(
                line,
                _("'{key}' must be text or a mapping of language code to text").format(key=key),
            )
            return LocalizedText()
        texts: dict[str, str] = {}
        for language, text in value.items():
            if language not in self.languages:
                self.problem(
                    value.line_of(language),
                    _("language '{language}' is not listed in the form's languages").format(
                        language=Quoted(language)
                    ),
                )
                continue
            if not isinstance(text, str) or not text.strip():
                self.problem(
                    value.line_of(language),
                    _("'{key}' in '{language}' must be non-empty text").format(
                        key=key, language=language
                    ),
                )
                continue
            texts[language] = text
        if texts and self.default_language not in texts:
            self.problem(
                line,
                _("'{key}' has no text in the default language '{language}'").format(
                    key=key, language=self.default_language
                ),
            )
        return LocalizedText(MappingProxyType(texts))

    def _expression(self, entry: LocatedMap, key: str, name: str) -> Expression | None:
        source = entry.get(key)
        if source is None:
            return None
        line = entry.line_of(key)
        if isinstance(source, bool):
            source = "true()" if source else "false()"
        if not isinstance(source, str | int | float):
            self.problem(line, _("item '{name}': {key} must be an expression in quotes").format(
                name=name, key=key))
            return None
        try:
            return parse_expression(str(source))
        except ExpressionError as error:
            self.problem(line, _(
                "item '{name}': {key}: {message} (at character {position} of the expression)"
            ).format(name=name, key=key, message=error.message, position=error.position + 1))
            return None

