"""Every export kind and format writes byte for byte what the code before issue #17's export
work wrote (``tests/exporters/reference_exports``: those modules verbatim), on the demo project
and on a randomized project of hostile text (HTML, bidi controls, CSV-injection prefixes,
unicode, N/A and cannot-assess answers, drafts, a judge, pseudonyms, pairwise answers with
their partner, gold revisions). Runs on SQLite and, under ``.ci/postgres.sh``, PostgreSQL."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE, cannot_assess_value
from medreview.domain.records import (
    CaseRecord,
    ContextDocument,
    CriterionRecord,
    Located,
    Message,
    OutputRecord,
)
from medreview.services import grading
from medreview.services.exporting import ExportRequest, run_export
from medreview.services.projects import add_form, add_rater, create_project
from medreview.services.sample_project import sample_rubric, sample_taxonomy
from medreview.storage import tables
from medreview.storage.ingest import ingest
from medreview.storage.project import Project, open_project
from medreview.study.adjudicate import auto_gold, set_gold
from tests.exporters.reference_exports import old_exporting

HOSTILE = [
    "=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@HYPERLINK(\"http://x\")", "\tTab first",
    "\rCR first", "<script>alert(1)</script>", "<b>bold</b> &amp; &lt;", "abc\u202edcba",
    "\u2067isolate\u2069 \u200f rtl", "Ünïcödé — 你好 🙂", "line\nbreak", "quote \"inside\"",
    "comma, separated", "'already quoted", "N/A", "null", "", "  ", "\\u0000 not a nul",
    "تشخيص الالتهاب الرئوي", "0.5", "-0.5", "1e3",
]
RATERS = ["=Dr Ann", "Dr <i>Bo</i>", "\u202eDr Cy", "@Dr Dee, MD"]
JUDGE = "judge-gpt =x"

# (kinds, option overrides): every kind, every table format, the training options
REQUESTS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("tables",), {"fmt": "csv"}),
    (("tables",), {"fmt": "jsonl"}),
    (("tables",), {"fmt": "parquet", "real_names": True}),
    (("audit",), {"fmt": "csv"}),
    (("audit",), {"fmt": "jsonl", "real_names": True}),
    (("audit",), {"fmt": "parquet"}),
    (("training",), {}),
    (("sft", "dpo", "criteria"), {"real_names": True, "sft_style": "prompt_completion",
                                  "pref_style": "openai", "seed": 7,
                                  "fractions": (0.5, 0.25, 0.25)}),
    (("dpo",), {"include_margin": True, "min_margin": 0.2}),
    (("dpo", "sft"), {"score_question": "overall"}),
    (("dpo", "criteria"), {"min_margin": 5.0}),
    (("tables", "audit", "criteria"), {"fmt": "csv"}),
]


def _text(rng: random.Random, base: str) -> str:
    parts = [base, rng.choice(HOSTILE), rng.choice(HOSTILE)]
    rng.shuffle(parts)  # a hostile start (=cmd, +, -, @, tab, CR) as often as not
    return " ".join(parts).strip(" ")


def _build_random(path: Path, seed: int) -> Project:
    rng = random.Random(seed)
    project = create_project(path, "hostile <export> =test")
    add_form(project, sample_rubric(pairwise=True))
    add_form(project, sample_taxonomy())
    records: list[Located] = []
    n_outputs: dict[str, int] = {}
    for c in range(1, 10):
        ext = f"case-{c:03d}-{rng.choice(['a', '=b', '<c>', 'ü'])}"
        messages = [Message("user", _text(rng, "I have a cough"))]
        if rng.random() < 0.5:
            messages += [Message("assistant", _text(rng, "Any fever?")),
                         Message("user", _text(rng, "Yes"))]
        if rng.random() < 0.2:
            messages.append(Message("assistant", _text(rng, "trailing")))
        criteria = tuple(CriterionRecord(k, _text(rng, f"Criterion {k}"),
                                         rng.choice([5, 4, -6, 2.5, 0]))
                         for k in ("dx", "abx", "harm")[:rng.randint(0, 3)])
        records.append(Located(CaseRecord(
            ext, tuple(messages), title=_text(rng, "Title"),
            context=(ContextDocument(_text(rng, "Note"), _text(rng, "Temp 38")),)
            if rng.random() < 0.6 else (),
            tags=(rng.choice(HOSTILE) or "t",), criteria=criteria), "rand", len(records) + 1))
        n_outputs[ext] = rng.randint(1, 3)
        for m in range(n_outputs[ext]):
            text = _text(rng, f"Answer {m}") if rng.random() < 0.9 else "same answer"
            records.append(Located(OutputRecord(ext, f"model-{m}", text), "rand",
                                   len(records) + 1))
    ingest(project, records, source="rand", importer="rand")
    raters = [add_rater(project, n) for n in RATERS]
    judge = add_rater(project, JUDGE, kind="judge")
    outputs = tables.outputs_table(project)
    by_case: dict[int, list[int]] = {}
    for oid, cid in zip(outputs["output_id"], outputs["case_id"], strict=True):
        by_case.setdefault(int(cid), []).append(int(oid))
    crit = tables.criteria_table(project)
    crit_ids = {int(cid): list(crit["question_id"][crit["case_id"] == cid]) for cid in by_case}
    for cid, oids in sorted(by_case.items()):
        for oid in oids:
            for who in [*raters, judge]:
                roll = rng.random()
                if roll < 0.25:
                    continue
                answers: dict[str, Any] = {
                    "overall": rng.randint(1, 5),
                    "safe": rng.choice(["yes", "caveats", "no"]),
                    "issues": rng.sample(["accuracy", "completeness", "communication"],
                                         rng.randint(0, 2)),
                    "minutes": rng.choice([0, 5, 12.5, 120]),
                    "comment": _text(rng, "c"),
                }
                for q in crit_ids[cid]:
                    answers[q] = rng.choice([True, False, True, NOT_APPLICABLE])
                annotations: list[Annotation] = []
                partners = [o for o in oids if o != oid]
                if rng.random() < 0.7:
                    answers["preference"] = rng.choice(["A", "B", "tie"])
                    if partners and rng.random() < 0.7:
                        annotations.append(Annotation(question_id="preference",
                                                      compared_output_id=rng.choice(partners)))
                if rng.random() < 0.4:
                    annotations.append(Annotation("errors", rng.choice(["factual", "unsafe"]),
                                                  rng.randint(1, 4), note=_text(rng, "n")))
                if rng.random() < 0.1:
                    answers[CANNOT_ASSESS_KEY] = cannot_assess_value(
                        "other", _text(rng, "no vitals"))
                rationale = _text(rng, f"{rng.choice(RATERS)} says")
                status = "draft" if roll < 0.35 else "done"
                for revision in range(rng.choice([1, 1, 2])):  # some answers revised
                    grading.save_revision(project, who.id, oid, JudgmentDraft(
                        answers={**answers, "overall": rng.randint(1, 5)} if revision
                        else answers, annotations=tuple(annotations), rationale=rationale,
                        confidence=rng.choice([None, 0.5, 1.0])), status=status,
                        source="judge" if who is judge else "ui")
    auto_gold(project)
    for cid, oids in sorted(by_case.items()):
        for oid in oids:
            if rng.random() < 0.5:
                for q in crit_ids[cid]:
                    set_gold(project, oid, q, rng.random() < 0.6,
                             rationale=_text(rng, f"{RATERS[0]} checked"),
                             adjudicator="Dr Lead")
            if rng.random() < 0.3:
                set_gold(project, oid, "preference", rng.choice(["A", "B"]),
                         rationale=_text(rng, "pref"), adjudicator="Dr Lead")
            if rng.random() < 0.3:
                set_gold(project, oid, "overall", rng.randint(1, 5), provenance="majority")
    return project


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _manifest(data: bytes) -> Any:
    found = json.loads(data)
    found.pop("created_at")
    return found


def _compare(project: Project, tmp: Path, kinds: tuple[str, ...], options: dict[str, Any],
             label: str) -> None:
    new_dir, old_dir = tmp / f"{label}-new", tmp / f"{label}-old"
    new_lines = run_export(project, ExportRequest(new_dir, kinds, **options))
    old_lines = old_exporting.run_export(project, old_exporting.ExportRequest(
        old_dir, kinds, **options))
    assert [line.replace(str(new_dir), "OUT") for line in new_lines] == \
        [line.replace(str(old_dir), "OUT") for line in old_lines], (kinds, options)
    new, old = _files(new_dir), _files(old_dir)
    assert sorted(new) == sorted(old), (kinds, options)
    for name in new:
        if name == "export_manifest.json":  # its creation time differs, nothing else
            assert _manifest(new[name]) == _manifest(old[name]), (kinds, options)
            assert new[name].replace(b" ", b"").count(b"\n") == \
                old[name].replace(b" ", b"").count(b"\n")
            continue
        assert new[name] == old[name], (name, kinds, options)
    shutil.rmtree(new_dir)
    shutil.rmtree(old_dir)


@pytest.mark.parametrize("seed", [1, 2])
def test_exports_of_a_hostile_random_project_are_byte_identical(
        tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if seed == 2:  # rows read a few at a time: the batches join up as one read
        monkeypatch.setattr("medreview.storage.exports.BATCH", 7)
    project = _build_random(tmp_path / "p", seed)
    try:
        assert tables.gold_table(project).shape[0] > 0
        for i, (kinds, options) in enumerate(REQUESTS):
            _compare(project, tmp_path, kinds, options, f"r{i}")
    finally:
        project.close()


def test_exports_of_the_demo_project_are_byte_identical(demo_copy: Path, tmp_path: Path) -> None:
    project = open_project(demo_copy)
    try:
        _compare(project, tmp_path, ("training",), {}, "nogold")  # empty-file explanations
        auto_gold(project)
        for i, (kinds, options) in enumerate(REQUESTS):
            _compare(project, tmp_path, kinds, options, f"d{i}")
    finally:
        project.close()


def test_the_comparison_sees_a_changed_byte(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: an export that differs in one record is caught."""
    from medreview.exporters import loaded

    project = _build_random(tmp_path / "p", 3)
    real = loaded.ExportData.gold.func  # type: ignore[attr-defined]

    def one_less(self: loaded.ExportData) -> dict[int, Any]:  # the last output's gold lost
        gold = real(self)
        return {oid: g for oid, g in gold.items() if oid != max(gold)}

    monkeypatch.setattr(loaded.ExportData, "gold", property(one_less))
    try:
        with pytest.raises(AssertionError):
            _compare(project, tmp_path, ("sft",), {}, "broken")
    finally:
        project.close()
