"""One package revision checked against the lead's forms: author, date, values, answers, marks.

Free of SQLAlchemy and of ``storage``: the merge runs these checks in its own process, and
the pipelined merge (``study.merge_pipeline``) runs them in a worker process that must start
in milliseconds. The inputs are duck-typed: ``lead`` has ``forms``, ``criteria`` and
``case_of`` (``storage.merging.MergeReference`` or the worker's copy), ``issued`` has
``rater`` and ``attachments``, a revision has ``storage.merging.PackageRevision``'s fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from medreview.domain.answer_validator import AnswerValidator, RuleMemo
from medreview.domain.rubric import Form
from medreview.domain.validation import questions_by_id
from medreview.study.merge_checks import (
    Invalid,
    all_questions,
    check_scalars,
    check_valid_answers,
    map_annotations,
    scalars_fine,
)

# A rater's clock may run a little ahead of the lead's; revisions dated later than this past
# the merge are refused (a 2099 date would win every later conflict).
CLOCK_SKEW = dt.timedelta(minutes=10)


def one_line(value: object, limit: int = 80) -> str:
    """A value from a package, safe to quote in a one-line message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "…"


class Refused(Exception):
    """One revision refused: ``reason`` is the whole line; the caller names the revision."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forms(NamedTuple):
    """A revision's forms as this project has them, and the form's answers check."""

    rubric: Form
    taxonomy: Form | None
    form_key: tuple[str, int]
    taxonomy_key: tuple[str, int] | None
    answers: AnswerValidator


class Checked(NamedTuple):
    """What a revision that passed every check is stored with, beyond its own values."""

    forms: Forms
    annotations: list[Any]  # ids rewritten to this project's
    guideline_version: int | None


class RevisionChecks:
    """A package's new revisions checked in order: author, date, forms, values, answers, marks.

    What depends only on the revision's forms (the lead's rubric and taxonomy, or why they are
    refused) and on its (forms, case) (the compiled answers check) is looked up once."""

    def __init__(self, lead: Any, issued: Any, now: dt.datetime,
                 out_map: dict[int, int]) -> None:
        self.lead, self.issued, self.out_map = lead, issued, out_map
        self.latest = now + CLOCK_SKEW
        # By (form id, taxonomy id): the lead's forms, their keys and their answers check,
        # or why they are refused.
        self._forms: dict[tuple[int, int | None], Forms | str] = {}
        # The answers check by forms and the id of the case's criteria tuple (the form's check
        # with those criteria added).
        self._validators: dict[tuple[int, int | None, int], AnswerValidator] = {}
        self._rules: RuleMemo = {}

    def _lead_forms(self, r: Any, form: Any, tax: Any) -> Forms:
        key = (r.form_id, r.taxonomy_id)
        found = self._forms.get(key)
        if found is None:
            try:
                if form.kind != "rubric" or (tax is not None and tax.kind != "taxonomy"):
                    raise Refused("revision's rubric or taxonomy is a form of the wrong kind")
                rubric = lead_form(self.lead, form)
                taxonomy = lead_form(self.lead, tax) if tax is not None else None
                found = Forms(rubric, taxonomy, (form.key, form.version),
                              (tax.key, tax.version) if tax is not None else None,
                              AnswerValidator(questions_by_id(
                                  rubric, taxonomy.questions if taxonomy else ()),
                                  self._rules))
            except Refused as exc:
                found = exc.reason
            self._forms[key] = found
        if isinstance(found, str):
            raise Refused(found)
        return found

    def check(self, r: Any, form: Any, tax: Any, ours: int) -> Checked:
        """Every check of a new revision ``r`` of our output ``ours``; ``Refused`` says why not."""
        issued, lead = self.issued, self.lead
        if r.author != issued.rater:
            raise Refused(f"revision is signed by {str(r.author)[:80]!r}, not the package's "
                          f"rater {issued.rater!r}")
        if not isinstance(r.created_at, dt.datetime) or r.created_at > self.latest:
            raise Refused(f"revision is dated {r.created_at}, later than this merge "
                          f"(allowing {int(CLOCK_SKEW.total_seconds() // 60)} minutes of clock "
                          "difference)")
        forms = self._forms.get((r.form_id, r.taxonomy_id))
        if forms is None or isinstance(forms, str):
            forms = self._lead_forms(r, form, tax)
        try:
            if not scalars_fine(r):  # check_scalars says why
                check_scalars(rationale=r.rationale, confidence=r.confidence,
                              overall_score=r.overall_score, time_on_task_s=r.time_on_task_s,
                              flagged=r.flagged, skipped=r.skipped, status=r.status)
            criteria = lead.criteria.get(lead.case_of[ours], ())
            # By the criteria tuple (shared by cases with equal criteria; kept alive by lead).
            vkey = (r.form_id, r.taxonomy_id, id(criteria))
            validator = self._validators.get(vkey)
            if validator is None:
                validator = self._validators[vkey] = forms.answers.extended(
                    criteria, self._rules)
            check_valid_answers(r.answers, validator)
            # Marks name questions; most revisions have none (and build no index).
            marks = r.annotations
            annotations: list[Any] = [] if type(marks) is list and not marks else (
                map_annotations(marks, all_questions(
                    forms.rubric, forms.taxonomy, criteria) if marks else {},
                    issued.attachments, self.out_map))
        except Invalid as exc:
            raise Refused(one_line(exc, 300)) from None
        version = r.guideline_version
        return Checked(forms, annotations,
                       None if version is None else guideline_version(version))


def guideline_version(value: object) -> int | None:
    """The grading-guidelines version a revision records: empty, or a version number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise Refused(f"revision's guideline version {one_line(value, 20)!r} is not a version "
                      "number")
    return value


def lead_form(lead: Any, f: Any) -> Form:
    found = lead.forms.get((f.key, f.version))
    if found is None:
        raise Refused(f"revision names form {f.key} v{f.version}, which this project does "
                      "not have")
    if found[1] != f.sha256:
        raise Refused(f"package form {f.key} v{f.version} differs from this project's")
    form: Form = found[2]
    return form
