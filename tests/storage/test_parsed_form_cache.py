"""Parsed forms are reused by their exact stored text (the grading screen loads the active
forms with every item); a row whose text differs is parsed afresh, whatever its hash says."""

from __future__ import annotations

import copy

from medreview.rubrics.templates import load_template
from medreview.storage import forms
from medreview.storage.models import FormRow


def _row(definition: dict, sha: str = "0" * 64) -> FormRow:  # type: ignore[type-arg]
    return FormRow(key="k", version=1, kind="rubric", name="n", definition=definition,
                   sha256=sha, active=True)


def test_the_same_text_is_parsed_once_and_other_text_is_never_served_from_the_cache() -> None:
    forms._PARSED.clear()
    base = load_template("healthbench").to_dict()
    first = forms.form_from_row(_row(base))
    assert forms.form_from_row(_row(copy.deepcopy(base))) is first  # reused
    changed = copy.deepcopy(base)
    changed["name"] = "Changed under the same key, version and claimed hash"
    other = forms.form_from_row(_row(changed))  # same key, version and sha256 column
    assert other is not first and other.name == changed["name"]


def test_the_cache_is_bounded() -> None:
    forms._PARSED.clear()
    base = load_template("healthbench").to_dict()
    for i in range(forms._PARSED_MAX + 10):
        d = copy.deepcopy(base)
        d["name"] = f"form {i}"
        forms.form_from_row(_row(d))
    assert len(forms._PARSED) == forms._PARSED_MAX
