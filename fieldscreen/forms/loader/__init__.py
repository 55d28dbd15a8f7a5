"""Loads and validates checklist form files into `Form` objects, reporting every problem by line.

One module a job: `vocabulary` (the format's keys and defaults), `fields` (single values),
`rules` (the referral rules), `checks` (whole-form checks), `reader` (`FormReader`, the
form itself) and `paths` (`forms check` over files and folders). See docs/form-format.md.
"""

from fieldscreen.forms.loader.paths import check_paths
from fieldscreen.forms.loader.reader import FormReader, load_form, load_form_text
from fieldscreen.forms.loader.vocabulary import DEFAULT_ANSWER_SCORES, FORM_FORMAT

__all__ = [
    "DEFAULT_ANSWER_SCORES",
    "FORM_FORMAT",
    "FormReader",
    "check_paths",
    "load_form",
    "load_form_text",
]
