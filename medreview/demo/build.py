"""Build the demo project from ``resources/demo/cases.jsonl`` and pydicom's bundled images.

Everything is synthetic and deterministic (fixed seeds): the same demo on every machine, so
screenshots and tests can rely on it. Ratings are simulated from each answer's known truth:
three physicians who agree with the truth most of the time and an LLM judge that agrees a
little less often and states a confidence.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medreview.domain.records import (
    AttachmentRecord,
    CaseRecord,
    ContextDocument,
    CriterionRecord,
    Located,
    Message,
    OutputRecord,
)
from medreview.domain.scoring import healthbench_score
from medreview.importers.healthbench import criterion_key
from medreview.paths import resources_dir
from medreview.progress import Progress, no_progress
from medreview.rubrics.templates import load_template
from medreview.services.projects import add_form
from medreview.storage.ingest import ingest
from medreview.storage.project import create_project
from medreview.storage.rating_batches import (
    BatchRating,
    FinishedJudgeRun,
    RatingBatch,
    write_rating_batch,
)
from medreview.storage.revisions import RevisionContent

SEED = 20261122
PHYSICIANS = (("Dr. Amara Okafor", 0.93), ("Dr. Lukas Brandt", 0.89), ("Dr. Mei Tanaka", 0.91))
JUDGE_NAME = "judge: demo-judge-mini"
JUDGE_ACCURACY = 0.86
SEVERITY = {"minor": "minor", "moderate": "minor", "major": "major", "critical": "major"}


def demo_cases_path() -> Path:
    return resources_dir() / "demo" / "cases.jsonl"


def load_demo_cases() -> list[dict[str, Any]]:
    with open(demo_cases_path(), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _records(cases: list[dict[str, Any]], source: str) -> Iterator[Located]:
    for n, c in enumerate(cases, start=1):
        tags = [f"specialty:{c['specialty']}"]
        if c.get("theme"):
            tags.append(f"theme:{c['theme']}")
        if c.get("image"):
            tags.append(f"image:{c['image']}")
        yield Located(
            CaseRecord(
                external_id=c["id"],
                title=c["title"],
                messages=tuple(Message(m["role"], m["content"]) for m in c["messages"]),
                context=tuple(
                    ContextDocument(d["title"], d["text"], d.get("kind", "note"))
                    for d in c.get("context", [])
                ),
                tags=tuple(tags),
                criteria=tuple(
                    CriterionRecord(
                        criterion_key(i, k["criterion"]),
                        k["criterion"],
                        float(k["points"]),
                        tuple(k.get("tags", ())),
                    )
                    for i, k in enumerate(c["criteria"])
                ),
                metadata={"specialty": c["specialty"]},
            ),
            source,
            n,
        )
        for a in c["answers"]:
            yield Located(
                OutputRecord(
                    case_external_id=c["id"],
                    model=a["model"],
                    text=a["text"],
                    metadata={"demo_risk": a.get("risk")},
                ),
                source,
                n,
            )


def _image_records(cases: list[dict[str, Any]], dicom_dir: Path) -> Iterator[Located]:
    from medreview.imaging.demo_series import write_demo_dicom
    from medreview.imaging.dicom_series import scan_dicom_folder

    write_demo_dicom(dicom_dir)
    scan = scan_dicom_folder(dicom_dir)
    by_kind: dict[str, list[Any]] = {"ct": [], "ct_head": [], "mr": [], "cr": []}
    for series in scan.series:
        modality = (series.modality or "").upper()
        kind = "ct" if modality == "CT" else "mr" if modality == "MR" else "cr"
        if kind == "ct" and "head" in (series.description or "").lower():
            kind = "ct_head"
        by_kind[kind].append(series)
    for c in cases:
        wanted = c.get("image")
        if not wanted:
            continue
        candidates = by_kind.get(wanted) or by_kind["ct"] or by_kind["cr"]
        if not candidates:
            continue
        for series in candidates[:1]:
            for idx, inst in enumerate(series.instances):
                yield Located(
                    AttachmentRecord(
                        case_external_id=c["id"],
                        path=str(inst.path),
                        kind="dicom",
                        filename=f"{series.modality or 'IMG'}_{idx + 1:03d}.dcm",
                        study_uid=series.study_uid,
                        series_uid=series.series_uid,
                        sop_uid=inst.sop_uid,
                        modality=series.modality,
                        series_description=series.description,
                        instance_number=inst.instance_number,
                        sort_index=idx,
                        frame_count=inst.frame_count,
                    ),
                    "demo-dicom",
                    idx + 1,
                )


def _rated_errors(rng: random.Random, answer: dict[str, Any], keep: float) -> list[dict[str, Any]]:
    out = []
    text = answer["text"]
    for e in answer.get("errors", []):
        if rng.random() > keep:
            continue
        entry: dict[str, Any] = {
            "question_id": "errors",
            "category": e["category"],
            "severity": SEVERITY.get(e.get("severity", "minor"), "minor"),
        }
        start = text.find(e.get("quote", ""))
        if e.get("quote") and start >= 0:
            entry["span"] = {"start": start, "end": start + len(e["quote"]), "text": e["quote"]}
        out.append(entry)
    return out


def _simulated_batch(cases: list[dict[str, Any]]) -> RatingBatch:
    """The demo's ratings, drawn from one seeded generator in a fixed order (no database)."""
    rng = random.Random(SEED)
    ratings: list[BatchRating] = []
    n_items = 0
    for c in cases:
        points = [float(k["points"]) for k in c["criteria"]]
        qids = [f"criterion:{criterion_key(i, k['criterion'])}"
                for i, k in enumerate(c["criteria"])]
        for a in c["answers"]:
            truth = a["met"]
            for name, acc in PHYSICIANS:
                if rng.random() < 0.12:  # not every physician rated every answer
                    continue
                met = [t if rng.random() < acc else (not t) for t in truth]
                answers: dict[str, Any] = dict(zip(qids, met, strict=True))
                answers["errors"] = _rated_errors(rng, a, keep=acc)
                content = RevisionContent(
                    answers=answers,
                    annotations=[],
                    rationale=_rationale(a, met, c),
                    confidence=round(rng.uniform(0.6, 1.0), 2),
                    overall_score=healthbench_score(list(zip(points, met, strict=True))),
                    time_on_task_s=round(rng.uniform(40, 240), 1),
                    status="done",
                )
                ratings.append(BatchRating(name, c["id"], a["model"], content, "import"))
            # The judge: per-criterion confidence, a little worse calibrated than it claims.
            met_j, conf = [], {}
            for i, t in enumerate(truth):
                correct = rng.random() < JUDGE_ACCURACY
                met_j.append(t if correct else (not t))
                p = rng.uniform(0.75, 0.99) if correct else rng.uniform(0.5, 0.9)
                conf[qids[i]] = round(p, 3)
            answers = dict(zip(qids, met_j, strict=True))
            answers["errors"] = _rated_errors(rng, a, keep=0.75)
            # Per-question confidence as the real judge records it (see services/judging.py).
            notes = [
                {
                    "question_id": qid,
                    "note": "Simulated verdict.",
                    "judge": {"confidence": p, "confidence_source": "stated", "item_key": qid},
                }
                for qid, p in conf.items()
            ]
            content = RevisionContent(
                answers=answers,
                annotations=notes,
                rationale="Simulated judge verdicts (demo).",
                confidence=round(sum(conf.values()) / len(conf), 3),
                overall_score=healthbench_score(list(zip(points, met_j, strict=True))),
                status="done",
            )
            ratings.append(BatchRating(JUDGE_NAME, c["id"], a["model"], content, "judge"))
            n_items += len(truth)
    run = FinishedJudgeRun(
        uid="00000000-0000-4000-8000-000000000001",
        model="demo-judge-mini",
        base_url="http://127.0.0.1:8011/v1",
        template_key="healthbench-criterion",
        template_version=1,
        template_hash="simulated",
        params={"temperature": 0.0},
        notes="Simulated ratings for the demo; reproduce a real run with `medreview judge`.",
        n_requests=n_items,
        prompt_tokens=900 * n_items,
        completion_tokens=80 * n_items,
    )
    return RatingBatch(physicians=tuple(name for name, _acc in PHYSICIANS),
                       ratings=tuple(ratings), judge=JUDGE_NAME, judge_run=run)


def _rationale(answer: dict[str, Any], met: list[bool], case: dict[str, Any]) -> str:
    errors = answer.get("errors", [])
    if not errors:
        return "Accurate and appropriately safety-netted; no clinically relevant errors."
    worst = errors[0]
    quote = " ".join(str(worst.get("quote", "")).split())
    quote = quote if len(quote) <= 80 else quote[:79].rstrip() + "…"
    end = "" if quote.endswith((".", "!", "?", "…")) else "."  # no '."."' after a sentence
    return (
        f'{worst["category"].replace("_", " ").capitalize()}: "{quote}"{end} '
        f"Meets {sum(met)} of {len(met)} criteria."
    )


def build_demo_project(path: Path, *, progress: Progress = no_progress) -> Path:
    """Create the demo project at ``path`` (which must not exist or be empty)."""
    cases = load_demo_cases()
    project = create_project(path, "medreview demo")
    try:
        add_form(project, load_template("healthbench"))
        add_form(project, load_template("medval_errors"))
        progress(0, 4, "cases and answers")
        ingest(project, _records(cases, "demo"), source=str(demo_cases_path()), importer="demo")
        progress(1, 4, "images")
        with tempfile.TemporaryDirectory(prefix="medreview-demo-") as tmp:
            ingest(project, _image_records(cases, Path(tmp)), source="demo-dicom", importer="demo")
        progress(2, 4, "ratings")
        write_rating_batch(project, _simulated_batch(cases))
        progress(4, 4, "done")
    except BaseException:
        project.close()
        shutil.rmtree(path, ignore_errors=True)
        raise
    project.close()
    return path
