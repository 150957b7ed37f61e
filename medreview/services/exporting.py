"""One entry point for every export, shared by ``medreview export`` and the app's dialog.

``ExportRequest`` says what to write and how; ``run_export`` writes it and returns a list of
lines (path and record count) for the user. Tables, the audit trail and the training bundle keep
their own modules (``medreview.exporters``); this module only decides which to call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from medreview.errors import InputError
from medreview.progress import Progress, no_progress

if TYPE_CHECKING:  # the command line imports this module to build its parser: keep it light
    from medreview.exporters.loaded import ExportData
    from medreview.exporters.training import PrefStyle, SftStyle
    from medreview.storage.project import Project

TRAINING_KINDS = ("sft", "dpo", "criteria", "media")
EMPTY_NOTE = ": 0 records — "  # marks a line that explains an empty export, not a file
_STEMS = {"sft": "sft", "dpo": "preferences", "criteria": "criteria"}
ALL_KINDS = ("tables", "audit", *TRAINING_KINDS)
KIND_LABELS = {
    "tables": "Tables: cases, outputs, judgments (one row per output × question × rater), gold",
    "audit": "Audit trail: every judgment and gold-label revision",
    "sft": "Chat fine-tuning JSONL (OpenAI / TRL SFTTrainer)",
    "dpo": "Preference pairs JSONL (TRL DPOTrainer)",
    "criteria": "Per-criterion table (criterion, met, explanation)",
    "media": "Images, DICOM de-identified (PS3.15 basic profile)",
}


@dataclass(frozen=True)
class ExportRequest:
    outdir: Path
    kinds: tuple[str, ...] = ("tables",)
    fmt: str = "csv"  # tables and audit: csv | jsonl | parquet
    real_names: bool = False  # the lead's explicit opt-in; pseudonyms otherwise
    seed: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    sft_style: SftStyle = "messages"
    pref_style: PrefStyle = "trl"
    score_question: str | None = None
    min_margin: float = 0.0
    include_margin: bool = False
    allow_burned_in: bool = False
    all_or_nothing: bool = False  # media: any refused file refuses the whole export
    retain_safe_private: bool = False  # media: keep PS3.15's safe private attributes (113111)
    overwrite: bool = False  # write into a non-empty outdir, replacing same-named entries


def normalise_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """Unique kinds in order; ``training`` stands for sft, dpo and criteria."""
    out: list[str] = []
    for k in kinds:
        for kind in (("sft", "dpo", "criteria") if k == "training" else (k,)):
            if kind not in ALL_KINDS:
                raise InputError(f"unknown export kind {kind!r}; choose from "
                                 f"{', '.join(ALL_KINDS)} or training")
            if kind not in out:
                out.append(kind)
    if not out:
        raise InputError("choose at least one thing to export")
    return tuple(out)


def parse_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputError(f"split {text!r}: three numbers are needed, e.g. 0.8,0.1,0.1") from exc
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise InputError(f"split {text!r}: three non-negative fractions that sum to 1 are needed")
    return parts[0], parts[1], parts[2]


def run_export(project: Project, request: ExportRequest,
               progress: Progress = no_progress) -> list[str]:
    """Write what ``request`` asks for; return one line per file or folder written.

    Everything is built in a hidden sibling of ``request.outdir`` and renamed into place when
    complete (``exporters.staging``): an interrupted or refused export leaves no OUTDIR.
    """
    from medreview.exporters.staging import staged

    kinds = normalise_kinds(request.kinds)
    with staged(request.outdir, overwrite=request.overwrite) as stage:
        lines = _write(project, replace(request, outdir=stage), kinds, progress)
    final = str(request.outdir)
    return [final + line[len(str(stage)):] if line.startswith(str(stage)) else line
            for line in lines]


def _write(project: Project, request: ExportRequest, kinds: tuple[str, ...],
           progress: Progress) -> list[str]:
    lines: list[str] = []
    if "tables" in kinds:
        from medreview.exporters.tables import export_tables

        lines += [str(p) for p in export_tables(project, request.outdir, request.fmt,
                                                pseudonymise=not request.real_names,
                                                progress=progress)]
    if "audit" in kinds:
        from medreview.exporters.audit import export_audit

        lines += [str(p) for p in export_audit(project, request.outdir / "audit", request.fmt,
                                               pseudonymise=not request.real_names)]
    training = [k for k in kinds if k in TRAINING_KINDS]
    if training:
        from medreview.exporters.bundle import export_training
        from medreview.exporters.loaded import ExportData

        data = ExportData(project)  # read once, for every kind and the empty-file notes
        manifest = export_training(
            project, request.outdir, training, seed=request.seed, fractions=request.fractions,
            real_names=request.real_names, sft_style=request.sft_style,
            pref_style=request.pref_style, score_question=request.score_question,
            min_margin=request.min_margin, include_margin=request.include_margin,
            allow_burned_in=request.allow_burned_in, all_or_nothing=request.all_or_nothing,
            retain_safe_private=request.retain_safe_private, progress=progress, data=data)
        lines += [f"{request.outdir / name}  ({n} records)"
                  for name, n in manifest["files"].items()]
        if "media" in manifest:
            media = manifest["media"]
            lines.append(f"{request.outdir / 'media'}  ({media['files']} files, "
                         f"{len(media['refused'])} refused, see {media['report']})")
            lines += [f"  refused: case {r['case']}, attachment {r['attachment_id']}: "
                      f"{r['reason']}" for r in media["refused"]]
        lines += _empty_notes(project, request, training, manifest.get("counts", {}), data)
    return lines


def _empty_notes(project: Project, request: ExportRequest, kinds: list[str],
                 counts: dict[str, int], data: ExportData) -> list[str]:
    """One line per training export that wrote nothing: why, and what to do (from what the
    export already read)."""
    from medreview.exporters.training import empty_reason

    return [f"{kind}{EMPTY_NOTE}"
            + empty_reason(project, kind, score_question=request.score_question,
                           min_margin=request.min_margin, data=data)
            for kind in kinds if kind in _STEMS and counts.get(_STEMS[kind], 1) == 0]


def is_note(line: str) -> bool:
    """True for an explanation line of ``run_export`` (not a file or folder written)."""
    return EMPTY_NOTE in line and line.split(EMPTY_NOTE, 1)[0] in _STEMS
