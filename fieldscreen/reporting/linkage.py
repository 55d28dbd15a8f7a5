"""The same child screened twice: candidate pairs of screenings, scored, with their reasons.

FieldScreen stores no names. Two screenings of one child are found from what they share:
an optional pseudonymous child code (`child_code`, a keyed hash of a few letters the child
says, the birth year and sex) and the quasi-identifiers every screening has (age, sex,
nationality, area, screening date, forms of exploitation). Candidate pairs come from
blocking with recordlinkage's `Index` on the code, and on the quasi-identifiers (age
within a year, screening dates within WINDOW_DAYS) for the pairs whose code differs (a
letter heard differently); each pair is compared field by field with recordlinkage's
`Compare` and scored by its ECM classifier (Fellegi-Sunter weights learnt without labels
from the pairs themselves). A person decides: `workflows.linkage` lists the pairs with
their score and the fields that agree.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.reporting.facts import UNKNOWN_DAY, ScreeningFacts

# Screenings further apart than this are not compared (a child on the move is met again
# within weeks, and a wider window multiplies the pairs to score).
WINDOW_DAYS = 14
# A pair is listed when the classifier gives it at least this probability of one child.
LIST_FROM = 0.5
FIELDS = ("code", "given_letters", "family_letters", "age", "age_near", "sex", "nationality",
          "area", "same_day", "dates_near", "forms")


def _letters(text: str, count: int) -> str:
    # Case, accents and compatibility forms folded, so "Élodie", "elodie" and "ＥＬＯ" agree.
    folded = unicodedata.normalize("NFKD", text.casefold())
    kept = [c for c in folded if c.isalpha() and not unicodedata.combining(c)]
    return "".join(kept[:count])


@dataclass(frozen=True, slots=True)
class ChildCode:
    """Keyed hashes of what a child says: all of it, and each name's letters alone.

    The parts let one letter heard differently still link (the other name agrees); each
    is an HMAC under the deployment's key, so without the key none can be reversed, even
    though two letters alone have little entropy.
    """

    full: str
    given: str
    family: str


def _keyed(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def child_code(key: bytes, *, given: str, family: str, birth_year: int | None,
               sex: str | None) -> ChildCode | None:
    """The pseudonymous code of a child: HMAC-SHA-256 under the deployment's linkage key.

    Only the first two letters of each name (as the child says them) are used, and only
    here: the caller must not store them. None when there is too little to go on.
    """
    first, last = _letters(given, 2), _letters(family, 2)
    if len(first) < 1 or len(last) < 1 or birth_year is None:
        return None
    return ChildCode(full=_keyed(key, "full", first, last, str(birth_year), sex or ""),
                     given=_keyed(key, "given", first, sex or ""),
                     family=_keyed(key, "family", last, sex or ""))


@dataclass(frozen=True, slots=True)
class Candidates:
    """Scored candidate pairs: positions into the facts table, best first."""

    left: np.ndarray
    right: np.ndarray
    score: np.ndarray  # probability of one child, from the classifier
    agree: np.ndarray  # bool, one column per FIELDS entry

    def __len__(self) -> int:
        return len(self.left)

    def reasons(self, index: int) -> tuple[str, ...]:
        """The fields on which pair `index` agrees (names from FIELDS)."""
        return tuple(name for name, agrees in zip(FIELDS, self.agree[index], strict=True)
                     if agrees)


def _frame(facts: ScreeningFacts, codes: np.ndarray | None) -> Any:
    import pandas as pd

    age = facts.age.astype(np.int32)
    known_day = facts.day != UNKNOWN_DAY
    day = np.where(known_day, facts.day, -10_000_000).astype(np.int64)
    frame = pd.DataFrame({
        "age": np.where(age >= 0, age, -100), "sex": facts.sex.astype(np.int32),
        "nationality": facts.nationality.astype(np.int32),
        "area": facts.area.astype(np.int32), "day": day,
        "forms": facts.forms.astype(np.int64),
    })
    # Ages within one year always share one of two two-year bins; dates within the window
    # always share one of two staggered buckets.
    frame["age_a"] = frame["age"] // 2
    frame["age_b"] = (frame["age"] + 1) // 2
    frame["day_a"] = frame["day"] // WINDOW_DAYS
    frame["day_b"] = (frame["day"] + WINDOW_DAYS // 2) // WINDOW_DAYS
    if codes is not None:
        # A missing code must block nothing and agree with nothing: each gets its own value
        # (pandas would join one missing value with every other).
        for column in ("full", "given", "family"):
            frame[f"code_{column}"] = pd.Series(
                [getattr(code, column) if code is not None else f"-{row}"
                 for row, code in enumerate(codes)], dtype="object")
    return frame


def candidate_pairs(facts: ScreeningFacts, codes: np.ndarray | None = None, *,
                    list_from: float = LIST_FROM) -> Candidates:
    """Score the pairs of screenings that may be one child; those at `list_from` or above.

    `codes` holds each screening's child code (None where it has none).
    """
    import warnings

    with warnings.catch_warnings():
        # recordlinkage's EM warns about its own arithmetic (log of 0 before smoothing); the
        # scores are checked by the bench, and warnings must not reach a console log.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _candidate_pairs(facts, codes, list_from)


def _linkage_libraries() -> tuple[Any, Any]:
    """pandas and recordlinkage, which the optional `linkage` extra installs."""
    try:
        import pandas as pd
        import recordlinkage
    except ImportError:
        raise UserError(
            _("Finding screenings of the same child needs the record-linkage libraries, "
              "which are not installed on this computer."),
            hint=_("Install FieldScreen with its 'linkage' extra (pip install "
                   "'fieldscreen[linkage]'), then try again.")) from None
    return pd, recordlinkage


def _candidate_pairs(facts: ScreeningFacts, codes: np.ndarray | None,
                     list_from: float) -> Candidates:
    pd, recordlinkage = _linkage_libraries()

    frame = _frame(facts, codes)
    # Two families of blocks, each scored by its own classifier: pairs found through the
    # names' letters and pairs found through the place (same area). One classifier over
    # both would learn the families apart (EM's easiest split) instead of child and
    # not-child; within one family the fields that blocked are equal and the others tell.
    families = []
    if codes is not None:
        by_names = recordlinkage.Index()
        by_names.block("code_full")
        # One name heard differently: the other name's letters, within the window.
        for name in ("code_given", "code_family"):
            for age in ("age_a", "age_b"):
                for day in ("day_a", "day_b"):
                    by_names.block([name, "nationality", age, day])
        families.append(by_names.index(frame))
    by_place = recordlinkage.Index()
    for age in ("age_a", "age_b"):
        for day in ("day_a", "day_b"):
            by_place.block(["sex", "nationality", "area", age, day])
    families.append(by_place.index(frame))
    pairs = families[0]
    for family in families[1:]:
        pairs = pairs.union(family)
    if len(pairs) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, np.zeros(0), np.zeros((0, len(FIELDS)), dtype=bool))
    compare = recordlinkage.Compare()
    if codes is not None:
        compare.exact("code_full", "code_full", label="code")
        compare.exact("code_given", "code_given", label="given_letters")
        compare.exact("code_family", "code_family", label="family_letters")
    compare.exact("age", "age", label="age")
    compare.numeric("age", "age", method="linear", offset=1, scale=1, origin=0,
                    label="age_near")
    compare.exact("sex", "sex", label="sex")
    compare.exact("nationality", "nationality", label="nationality")
    compare.exact("area", "area", label="area")
    compare.exact("day", "day", label="same_day")
    compare.numeric("day", "day", method="step", offset=WINDOW_DAYS, origin=0,
                    label="dates_near")
    compare.exact("forms", "forms", label="forms")
    features = compare.compute(pairs, frame)
    if codes is None:
        for position, name in enumerate(("code", "given_letters", "family_letters")):
            features.insert(position, name, 0)
    binary = (features[list(FIELDS)].to_numpy() >= 0.5)
    binary_frame = pd.DataFrame(binary.astype(np.int8), index=features.index,
                                columns=list(FIELDS))
    score = np.zeros(len(pairs))
    for family in families:
        inside = pairs.isin(family)
        if inside.any():
            score[inside] = np.maximum(score[inside], _ecm_scores(binary_frame[inside]))
    keep = score >= list_from
    order = np.argsort(-score[keep], kind="stable")
    left = np.asarray(pairs.get_level_values(0))[keep][order]
    right = np.asarray(pairs.get_level_values(1))[keep][order]
    return Candidates(left.astype(np.int64), right.astype(np.int64), score[keep][order],
                      binary[keep][order])


def _ecm_scores(binary_frame: Any) -> np.ndarray:
    """Probability of one child for each pair, from recordlinkage's ECM classifier."""
    pd, recordlinkage = _linkage_libraries()

    # The full code agrees only when both names and the birth year do: it is left out of
    # the classifier, whose fields must be independent given the class (naive Bayes), and
    # kept for blocking and as a reason. Fields equal in every pair say nothing.
    learnt = [name for name in FIELDS if name != "code"
              and 0 < binary_frame[name].sum() < len(binary_frame)]
    if not learnt:
        return np.zeros(len(binary_frame))
    classifier = recordlinkage.ECMClassifier(binarize=None)
    # ECM takes the log of each field's agreement rate in each class; a field that agrees
    # in every pair of a class gives log(0) and the fit fails. One pseudo-pair of each
    # pattern (every field agreeing, every field differing, each field alone flipped)
    # keeps every rate strictly between 0 and 1.
    width = len(learnt)
    patterns = np.vstack([np.ones(width), np.zeros(width), 1 - np.eye(width), np.eye(width)])
    training = pd.concat([binary_frame[learnt], pd.DataFrame(
        patterns.astype(np.int8), columns=learnt,
        index=pd.MultiIndex.from_arrays([np.full(len(patterns), -1),
                                         np.arange(len(patterns))]))])
    classifier.fit(training)
    return np.asarray(classifier.prob(binary_frame[learnt]), dtype=float)
