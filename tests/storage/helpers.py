"""Small builders of import records for storage tests."""

from __future__ import annotations

from medreview.domain.records import (
    CaseRecord,
    CriterionRecord,
    Located,
    Message,
    OutputRecord,
    RatingRecord,
)


def case(ext: str, prompt: str = "What is the dose?", criteria: int = 2) -> CaseRecord:
    return CaseRecord(
        external_id=ext,
        messages=(Message("user", prompt),),
        title=f"Case {ext}",
        tags=("specialty:cardiology",),
        criteria=tuple(
            CriterionRecord(f"c{i}", f"Criterion {i}", 5.0 - 7 * (i == criteria - 1))
            for i in range(criteria)
        ),
    )


def output(ext: str, model: str, text: str) -> OutputRecord:
    return OutputRecord(case_external_id=ext, model=model, text=text)


def located(records: list[object], source: str = "test.jsonl") -> list[Located]:
    return [Located(r, source, i + 1) for i, r in enumerate(records)]  # type: ignore[arg-type]


def rating(ext: str, model: str, rater: str, answers: dict[str, object]) -> RatingRecord:
    return RatingRecord(
        case_external_id=ext,
        model=model,
        rater=rater,
        rater_kind="physician",
        answers=dict(answers),
    )
