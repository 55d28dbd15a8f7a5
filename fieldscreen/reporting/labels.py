"""The words for statistics categories, taken from the form's own choice labels."""

from __future__ import annotations

from fieldscreen.forms.schema import Form, Role
from fieldscreen.reporting.dashboard import CategoryLabel, Dimension, plain_label

_ROLES = {
    Dimension.SEX: Role.SEX,
    Dimension.NATIONALITY: Role.NATIONALITY,
    Dimension.AREA: Role.AREA,
    Dimension.EXPLOITATION_FORM: Role.EXPLOITATION_FORM,
}


def form_labels(form: Form | None, language: str) -> CategoryLabel:
    """Labels from `form`'s choice lists in `language`; shared words for the rest."""
    table: dict[tuple[Dimension, str], str] = {}
    if form is not None:
        for dimension, role in _ROLES.items():
            item = form.item_with_role(role)
            if item is None or item.choice_list is None:
                continue
            for choice in item.choice_list.choices:
                text = choice.label.get(language, form.default_language)
                if text:
                    table[dimension, choice.name] = text

    def label(dimension: Dimension, category: str) -> str:
        return table.get((dimension, category)) or plain_label(dimension, category)

    return label
