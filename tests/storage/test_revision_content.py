"""``RevisionContent``'s own ``__init__`` makes what the generated frozen one made."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from medreview.storage.revisions import RevisionContent


@dataclasses.dataclass(frozen=True)
class Generated:  # the class as it was: the dataclass's own __init__
    answers: dict[str, object] = dataclasses.field(default_factory=dict)
    annotations: list[dict[str, object]] = dataclasses.field(default_factory=list)
    rationale: str = ""
    confidence: float | None = None
    overall_score: float | None = None
    time_on_task_s: float = 0.0
    flagged: bool = False
    skipped: bool = False
    status: str = "draft"


def _state(x: object) -> tuple[object, ...]:
    return tuple(getattr(x, f.name) for f in dataclasses.fields(x))  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {}, {"answers": {"a": 1}}, {"annotations": [{"kind": "error"}], "status": "done"},
    {"answers": None, "annotations": None},  # kept as given, as before
    {"answers": {"q": "_n/a"}, "annotations": [], "rationale": "r", "confidence": 0.5,
     "overall_score": 0.3, "time_on_task_s": 12.5, "flagged": True, "skipped": True,
     "status": "skipped"},
])
def test_same_instance_as_the_generated_init(kwargs: dict[str, object]) -> None:
    ours, theirs = RevisionContent(**kwargs), Generated(**kwargs)  # type: ignore[arg-type]
    assert _state(ours) == _state(theirs)
    assert vars(ours) == vars(theirs)
    assert ours == RevisionContent(**kwargs)  # type: ignore[arg-type]
    assert repr(ours).replace("RevisionContent", "Generated") == repr(theirs)


def test_defaults_are_fresh_and_the_instance_frozen_hashable_and_replaceable() -> None:
    a, b = RevisionContent(), RevisionContent()
    assert a.answers == {} and a.answers is not b.answers
    assert a.annotations == [] and a.annotations is not b.annotations
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.status = "done"  # type: ignore[misc]
    c = RevisionContent(status="done", confidence=0.5)
    for x in (c, Generated(status="done", confidence=0.5)):  # a dict inside: unhashable both
        with pytest.raises(TypeError):
            hash(x)
    d = dataclasses.replace(c, overall_score=0.7)
    assert (d.status, d.confidence, d.overall_score) == ("done", 0.5, 0.7)
    assert d.answers is c.answers  # replace passes the fields on, as before
    assert [f.name for f in dataclasses.fields(RevisionContent)] == [
        f.name for f in dataclasses.fields(Generated)]
    ours = inspect.signature(RevisionContent).parameters
    theirs = inspect.signature(Generated).parameters
    assert list(ours) == list(theirs)
    assert all(ours[k].kind == theirs[k].kind for k in ours)


def test_positional_arguments_in_field_order() -> None:
    args: tuple[object, ...] = ({"a": 1}, [], "r", 0.5, 0.2, 3.0, True, False, "done")
    assert _state(RevisionContent(*args)) == _state(Generated(*args))  # type: ignore[arg-type]
