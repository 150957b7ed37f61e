"""One training/publishing export: chosen kinds, split by case, with a manifest of what was done.

Writes into ``outdir``:

* ``sft.<split>.jsonl`` — chat SFT (OpenAI fine-tuning / TRL SFTTrainer);
* ``preferences.<split>.jsonl`` + ``preferences.<split>.provenance.jsonl`` — DPO pairs and,
  row by row, which outputs and models they came from (kept apart: trainers may reject extra
  columns);
* ``criteria.<split>.jsonl`` and ``criteria.csv`` — HealthBench-style per-criterion table;
* ``splits.json`` — case -> split, with the seed and fractions;
* ``media/`` — de-identified media and ``media/deid_report.json`` (only with ``media``);
* ``export_manifest.json`` — kinds, counts, seed, pseudonymisation, de-identification summary.

Each JSONL file is checked against its published shape (``medreview.exporters.schemas``)
after writing. When media are exported, every written file (not only the media) is searched for
the original DICOM identifiers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medreview.errors import InputError
from medreview.exporters.deid import DeidentificationError, scan_for
from medreview.exporters.loaded import ExportData
from medreview.exporters.schemas import validate_jsonl
from medreview.exporters.splits import (
    DEFAULT_FRACTIONS,
    SPLITS,
    assign_splits,
    split_records,
    write_jsonl,
)
from medreview.exporters.training import (
    PrefStyle,
    SftStyle,
    criteria_rows,
    preference_records,
    sft_records,
)
from medreview.progress import Progress, no_progress
from medreview.storage.project import Project

KINDS = ("sft", "dpo", "criteria", "media")


def export_training(
    project: Project,
    outdir: Path,
    kinds: Sequence[str] = ("sft", "dpo", "criteria"),
    *,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    real_names: bool = False,
    sft_style: SftStyle = "messages",
    pref_style: PrefStyle = "trl",
    score_question: str | None = None,
    min_margin: float = 0.0,
    include_margin: bool = False,
    allow_burned_in: bool = False,
    all_or_nothing: bool = False,
    retain_safe_private: bool = False,
    progress: Progress = no_progress,
    data: ExportData | None = None,
) -> dict[str, Any]:
    """Write the chosen exports; return the manifest (also written as export_manifest.json).

    ``data``: what this export run reads, shared by the kinds (and by the caller, which
    explains an empty file from it); each thing is read once."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise InputError(f"export kinds must be among {', '.join(KINDS)}", item=", ".join(unknown))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": "medreview-training-export/1",
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "project_uid": project.uid,
        "kinds": list(kinds),
        "split": {"by": "case", "seed": seed, "fractions": dict(zip(SPLITS, fractions,
                                                                     strict=True))},
        "raters": "real names (lead opted in)" if real_names else "pseudonyms (P01, ...)",
        "files": {},
        "counts": {},
    }
    steps = len(kinds) + 1
    progress(0, steps, "collecting")
    data = data or ExportData(project)
    sft = (sft_records(project, style=sft_style, real_names=real_names, data=data)
           if "sft" in kinds else [])
    prefs, sidecar = (preference_records(project, style=pref_style, score_question=score_question,
                                         min_margin=min_margin, include_margin=include_margin,
                                         data=data)
                      if "dpo" in kinds else ([], []))
    crit = criteria_rows(project, real_names=real_names, data=data) if "criteria" in kinds else []
    case_keys = {k for k, _ in [*sft, *prefs, *crit]}
    splits = assign_splits(case_keys, fractions, seed)
    write_jsonl([{"case_external_id": k, "split": v} for k, v in sorted(splits.items())],
                outdir / "splits.jsonl")
    (outdir / "splits.json").write_text(json.dumps(
        {"seed": seed, "fractions": list(fractions), "cases": dict(sorted(splits.items()))},
        indent=2), encoding="utf-8")
    written: list[Path] = [outdir / "splits.json", outdir / "splits.jsonl"]

    def emit(stem: str, records: list[tuple[str, dict[str, Any]]], checker: str | None,
             *, renumber: bool = False) -> None:
        grouped = split_records(records, splits)
        for name in SPLITS:
            if renumber:  # a sidecar row points at its record's line in the same split file
                grouped[name] = [{**r, "row": i} for i, r in enumerate(grouped[name])]
            path = write_jsonl(grouped[name], outdir / f"{stem}.{name}.jsonl")
            if checker and grouped[name]:
                validate_jsonl(path, checker)
            manifest["files"][path.name] = len(grouped[name])
            written.append(path)
        manifest["counts"][stem] = len(records)

    if "sft" in kinds:
        progress(kinds.index("sft") + 1, steps, "sft")
        emit("sft", sft, "openai_chat" if sft_style == "messages" else "trl_prompt_completion")
        sft.clear()  # written: its memory is free for the next kind
    if "dpo" in kinds:
        progress(kinds.index("dpo") + 1, steps, "preferences")
        emit("preferences", prefs,
             "trl_preference" if pref_style == "trl" else "openai_preference")
        emit("preferences.provenance", [(prefs[i][0], row) for i, row in enumerate(sidecar)],
             None, renumber=True)
        prefs.clear()
        sidecar.clear()
    if "criteria" in kinds:
        progress(kinds.index("criteria") + 1, steps, "criteria")
        emit("criteria", crit, None)
        import pandas as pd

        from medreview.exporters.tables import write_table

        # rows as tuples (a frame of dicts infers each column as one of tuples does, and a
        # dict per row is four times the memory); no row: the frame of no dicts
        columns = [*crit[0][1], "split"] if crit else []
        frame = pd.DataFrame([(*r.values(), splits[k]) for k, r in crit], columns=columns) \
            if crit else pd.DataFrame([])
        crit.clear()
        written.append(write_table(frame, outdir / "criteria", "csv"))
    if "media" in kinds:
        progress(kinds.index("media") + 1, steps, "media")
        from medreview.exporters.media import REPORT_NAME, export_media

        report = export_media(project, outdir / "media", allow_burned_in=allow_burned_in,
                              all_or_nothing=all_or_nothing,
                              retain_safe_private=retain_safe_private)
        manifest["media"] = {"files": len(report.files), "report": f"media/{REPORT_NAME}",
                             "refused": report.refused}
        # The text exports must not carry what the DICOM headers carried either.
        for p in written:
            hits = scan_for(p, report.identifiers)
            if hits:
                raise DeidentificationError(
                    f"{len(hits)} original DICOM identifying value(s) found in an export file",
                    source=str(p.name))
        manifest["verification"] = ("every exported file was searched for every original "
                                    "identifying DICOM value: none found")
    (outdir / "export_manifest.json").write_text(json.dumps(manifest, indent=2),
                                                 encoding="utf-8")
    progress(steps, steps, "done")
    return manifest
