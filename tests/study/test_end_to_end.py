"""The whole study: assign 3 raters with 30 % overlap, package, grade offline, merge,
adjudicate, export every format and validate each against its published shape."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from medreview.cli.main import main
from medreview.exporters.bundle import export_training
from medreview.exporters.schemas import validate_jsonl
from medreview.exporters.splits import SPLITS
from medreview.storage.models import AssignmentRow, JudgmentRow
from medreview.storage.project import Project
from medreview.study.adjudicate import (
    accept_majority,
    adjudication_queue,
    auto_gold,
    gold_labels,
    set_gold,
)
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package
from tests.study.helpers import PHI, grade_package

RATERS = ("Dr Amara", "Dr Lukas", "Dr Mei")


def test_full_study_round_trip(study: Project, tmp_path: Path) -> None:
    summary = assign(study, AssignmentDesign(RATERS, per_output=2, overlap=0.3, seed=2026))
    assert summary.multi_rated_outputs == 9
    returned = []
    for i, name in enumerate(RATERS):
        pkg = build_package(study, name, tmp_path / f"pkg{i}.mrpkg")
        returned.append(grade_package(pkg.path, tmp_path / f"work{i}", tmp_path / f"ret{i}.mrpkg"))
    report = merge_packages(study, returned)
    assert report.conflicts == []
    with study.read() as s:
        n_assign = s.scalar(select(func.count()).select_from(AssignmentRow))
        n_done = s.scalar(select(func.count()).select_from(JudgmentRow)
                          .where(JudgmentRow.status == "done"))
    assert n_assign == n_done == report.added == 39

    auto_gold(study)
    queue = adjudication_queue(study)
    assert queue, "the scripted raters disagree somewhere"
    for d in queue:
        if d.has_majority:
            accept_majority(study, d.output_id, d.question_id, adjudicator="Dr Lead")
        elif d.kind == "error":
            set_gold(study, d.output_id, d.question_id, d.ratings[sorted(d.ratings)[0]],
                     rationale="Chosen after discussion.", adjudicator="Dr Lead")
        else:
            value = sorted(d.ratings.values(), key=json.dumps)[0]
            set_gold(study, d.output_id, d.question_id, value,
                     rationale="Adjudicated.", adjudicator="Dr Lead")
    assert adjudication_queue(study) == []
    provenances = Counter(g.provenance for labels in gold_labels(study).values()
                          for g in labels.values())
    assert {"adjudicated", "single_rater"} <= set(provenances)

    out = tmp_path / "export"
    manifest = export_training(study, out, ("sft", "dpo", "criteria", "media"), seed=7)
    checks = {"sft": "openai_chat", "preferences": "trl_preference"}
    for stem, checker in checks.items():
        total = sum(validate_jsonl(out / f"{stem}.{split}.jsonl", checker) for split in SPLITS
                    if (out / f"{stem}.{split}.jsonl").stat().st_size)
        assert total == manifest["counts"][stem] > 0
    # no case in two splits, in any export
    split_of = json.loads((out / "splits.json").read_text())["cases"]
    for stem in ("sft", "preferences", "criteria"):
        for split in SPLITS:
            for line in (out / f"{stem}.{split}.jsonl").read_text().splitlines():
                rec = json.loads(line)
                case = rec.get("case_external_id") or _case_of(rec)
                assert split_of[case] == split
    for split in SPLITS:  # provenance row i describes line i of the same split's pairs
        pairs = (out / f"preferences.{split}.jsonl").read_text().splitlines()
        prov = (out / f"preferences.provenance.{split}.jsonl").read_text().splitlines()
        assert len(pairs) == len(prov)
        for i, (pair, meta) in enumerate(zip(pairs, prov, strict=True)):
            assert json.loads(meta)["row"] == i
            assert _case_of(json.loads(pair)) == json.loads(meta)["case_external_id"]
    crit = [json.loads(x) for split in SPLITS
            for x in (out / f"criteria.{split}.jsonl").read_text().splitlines()]
    assert crit and all(set(r) >= {"criterion", "met", "explanation"} for r in crit)
    labels = {k for r in crit for k in r["rater_labels"]}
    assert labels and all(k.startswith("P") for k in labels)  # pseudonymised
    for p in out.rglob("*"):
        if p.is_file():
            raw = p.read_bytes()
            assert not [k for k, v in PHI.items() if v in raw], p
            assert not any(n.encode() in raw for n in RATERS), p
    sft = json.loads((out / "sft.train.jsonl").read_text().splitlines()[0])
    verdict = json.loads(sft["messages"][2]["content"])
    assert set(verdict) == {"answers", "rationale"} and verdict["answers"]

    # the same through the command line, prompt-completion style and OpenAI preference style
    cli_out = tmp_path / "cli"
    rc = main(["export", str(study.path), str(cli_out), "--kind", "sft", "--kind", "dpo",
               "--sft-style", "prompt_completion", "--pref-style", "openai", "--seed", "7"])
    assert rc == 0
    for split in SPLITS:
        if (cli_out / f"sft.{split}.jsonl").stat().st_size:
            validate_jsonl(cli_out / f"sft.{split}.jsonl", "trl_prompt_completion")
        if (cli_out / f"preferences.{split}.jsonl").stat().st_size:
            validate_jsonl(cli_out / f"preferences.{split}.jsonl", "openai_preference")


def _case_of(rec: dict[str, object]) -> str:
    """Find the case of an SFT or preference record through its answer text."""
    import re

    text = json.dumps(rec)
    m = re.search(r"Assessment \(case (\d+)\)", text)
    assert m, text[:200]
    return f"case-{int(m.group(1)):05d}"
