"""The vocabulary of the ``medreview-form/1`` file format (see docs/RUBRIC_FORMAT.md).

Only names and rules live here, so that the loader, the documentation test and any editor
that offers completion agree on one list of keys.
"""

from __future__ import annotations

import re
from typing import Final

from medreview.domain.rubric import QuestionKind
from medreview.domain.scoring import SCORING_RULES
from medreview.domain.validation import ERROR_ENTRY_KEYS, PAIRWISE_VALUES

FORMAT_ID: Final = "medreview-form/1"

# Identifiers (form key, question id, category id): letters, digits and ``_ . -``, starting
# with a letter or digit, so they are safe in file names, CSV headers and column names.
ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

FORM_KEYS: Final = (
    "format",
    "key",
    "version",
    "name",
    "kind",
    "description",
    "per_case_criteria",
    "scoring",
    "references",
    "extra",
    "questions",
)
FORM_REQUIRED: Final = ("key", "version", "name", "kind")

# ``allow_na``: whether "not applicable" answers the question (domain.not_assessed.na_allowed).
COMMON_QUESTION_KEYS: Final = ("id", "type", "prompt", "help", "required", "tags", "allow_na")
QUESTION_REQUIRED: Final = ("id", "type", "prompt")

# The keys each kind adds to the common ones; a key listed for another kind is an error
# ("does not apply"), not silently ignored, so a typo'd ``type`` is caught early.
KIND_KEYS: Final[dict[QuestionKind, tuple[str, ...]]] = {
    QuestionKind.CRITERION: ("points",),
    QuestionKind.ORDINAL: ("options",),
    QuestionKind.SINGLE_CHOICE: ("options",),
    QuestionKind.MULTI_CHOICE: ("options",),
    QuestionKind.ERROR: ("categories", "severities"),
    QuestionKind.NUMBER: ("minimum", "maximum", "unit"),
    QuestionKind.TEXT: (),
    QuestionKind.PAIRWISE: ("options",),
}
ALL_QUESTION_KEYS: Final = COMMON_QUESTION_KEYS + tuple(
    dict.fromkeys(k for keys in KIND_KEYS.values() for k in keys)
)

# Fewest options a kind needs: a scale or a choice of one is not a question.
MIN_OPTIONS: Final[dict[QuestionKind, int]] = {
    QuestionKind.ORDINAL: 2,
    QuestionKind.SINGLE_CHOICE: 2,
    QuestionKind.MULTI_CHOICE: 1,
    QuestionKind.PAIRWISE: 2,
}

OPTION_KEYS: Final = ("value", "label", "description")
OPTION_REQUIRED: Final = ("value", "label")
CATEGORY_KEYS: Final = ("id", "label", "description", "group")
CATEGORY_REQUIRED: Final = ("id", "label")

__all__ = [
    "ALL_QUESTION_KEYS",
    "CATEGORY_KEYS",
    "CATEGORY_REQUIRED",
    "COMMON_QUESTION_KEYS",
    "ERROR_ENTRY_KEYS",
    "FORMAT_ID",
    "FORM_KEYS",
    "FORM_REQUIRED",
    "ID_PATTERN",
    "KIND_KEYS",
    "MIN_OPTIONS",
    "OPTION_KEYS",
    "OPTION_REQUIRED",
    "PAIRWISE_VALUES",
    "QUESTION_REQUIRED",
    "SCORING_RULES",
]
