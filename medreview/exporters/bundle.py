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

import contextlib
import datetime as dt
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from medreview.errors import InputError
from medreview.exporters.deid import DeidentificationError, scan_for
from medreview.exporters.loaded import ExportData, score_maker
from medreview.exporters.schemas import validate_jsonl
from medreview.exporters.splits import (
    DEFAULT_FRACTIONS,
    SPLITS,
    assign_splits,
    write_jsonl,
)
from medreview.exporters.table_stream import TableRows
from medreview.exporters.tables import write_table
from medreview.exporters.training import (
    PrefStyle,
    SftStyle,
    criteria_maker,
    iter_preference_records,
    sft_maker,
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
    # Each kind's records go to a spool beside the files as they are made (the split needs
    # every kind's cases first); then each spool is dealt to its split files.
    spools = Path(tempfile.mkdtemp(prefix=".spool-", dir=outdir))
    try:
        keys: set[str] = set()
        counts: dict[str, int] = {}
        # sft and criteria records, and the gold scores dpo needs, from one pass over the
        # gold labels and the outputs (each pass reads them all again)
        with contextlib.ExitStack() as stack:
            out = {kind: stack.enter_context(_Spool(spools / kind, keys, rows=(
                spools / "criteria.rows" if kind == "criteria" else None)))
                for kind in ("sft", "criteria") if kind in kinds}
            for kind, (key, rec) in _one_pass(project, data, kinds, sft_style=sft_style,
                                              real_names=real_names,
                                              score_question=score_question):
                out[kind].add(key, rec)
        counts.update({kind: spool.n for kind, spool in out.items()})
        columns = out["criteria"].columns if "criteria" in out else []
        if "dpo" in kinds:
            counts["dpo"] = _spool_pairs(spools / "dpo", spools / "dpo.provenance",
                                         iter_preference_records(
                                             project, style=pref_style,
                                             score_question=score_question,
                                             min_margin=min_margin,
                                             include_margin=include_margin, data=data), keys)
        splits = assign_splits(keys, fractions, seed)
        del keys
        write_jsonl([{"case_external_id": k, "split": v} for k, v in sorted(splits.items())],
                    outdir / "splits.jsonl")
        (outdir / "splits.json").write_text(json.dumps(
            {"seed": seed, "fractions": list(fractions), "cases": dict(sorted(splits.items()))},
            indent=2), encoding="utf-8")
        written: list[Path] = [outdir / "splits.json", outdir / "splits.jsonl"]

        def emit(stem: str, spool: str, checker: str | None, *, renumber: bool = False
                 ) -> None:
            paths = {name: outdir / f"{stem}.{name}.jsonl" for name in SPLITS}
            n = _deal_lines(spools / spool, splits, paths, renumber=renumber)
            for name in SPLITS:
                if checker and n[name]:
                    validate_jsonl(paths[name], checker)
                manifest["files"][paths[name].name] = n[name]
                written.append(paths[name])
            manifest["counts"][stem] = counts[spool.split(".")[0]]

        if "sft" in kinds:
            progress(kinds.index("sft") + 1, steps, "sft")
            emit("sft", "sft",
                 "openai_chat" if sft_style == "messages" else "trl_prompt_completion")
        if "dpo" in kinds:
            progress(kinds.index("dpo") + 1, steps, "preferences")
            emit("preferences", "dpo",
                 "trl_preference" if pref_style == "trl" else "openai_preference")
            emit("preferences.provenance", "dpo.provenance", None, renumber=True)
        if "criteria" in kinds:
            progress(kinds.index("criteria") + 1, steps, "criteria")
            emit("criteria", "criteria", None)
            written.append(write_table(_criteria_table(spools / "criteria.rows", columns,
                                                       splits), outdir / "criteria", "csv"))
    finally:
        shutil.rmtree(spools, ignore_errors=True)
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


_SPOOLED = 10_000  # records pickled together


def _unspool(path: Path) -> Iterator[list[tuple[str, Any]]]:
    """The chunks ``_spool`` wrote (our own file, written by this run: never input)."""
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


class _Spool:
    """A kind's records as lines of their case key and JSON line (as the split files will
    hold it: dealt without decoding), tab-separated (JSON text holds no raw tab); with
    ``rows``, also their values as tuples pickled a chunk at a time (``criteria.csv``: the
    keys are the same in every record, ``columns``)."""

    def __init__(self, path: Path, keys: set[str], *, rows: Path | None = None) -> None:
        self.keys, self.n = keys, 0
        self.columns: list[str] = []
        self._lines = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed by __exit__)
        self._rows = open(rows, "wb") if rows else None  # noqa: SIM115
        self._chunk: list[tuple[str, tuple[Any, ...]]] = []

    def add(self, key: str, rec: dict[str, Any]) -> None:
        self.keys.add(key)
        self._lines.write(f"{_ENCODE(key)}\t{_ENCODE(rec)}\n")
        self.n += 1
        if self._rows is not None:
            if not self.columns:
                self.columns = list(rec)
            self._chunk.append((key, tuple(rec.values())))
            if len(self._chunk) >= _SPOOLED:
                self._dump()

    def _dump(self) -> None:
        if self._rows is not None and self._chunk:
            pickle.dump(self._chunk, self._rows, protocol=pickle.HIGHEST_PROTOCOL)
            self._chunk = []

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._dump()
        finally:
            self._lines.close()
            if self._rows is not None:
                self._rows.close()


def _one_pass(project: Project, data: ExportData, kinds: Sequence[str], *,
              sft_style: SftStyle, real_names: bool, score_question: str | None
              ) -> Iterator[tuple[str, tuple[str, dict[str, Any]]]]:
    """(kind, record) of the sft and criteria kinds, and, for dpo, the gold scores kept in
    ``data``: one pass over the gold labels in output order for all three."""
    sft = (sft_maker(project, data, style=sft_style, real_names=real_names)
           if "sft" in kinds else None)
    crit = criteria_maker(project, data, real_names=real_names) if "criteria" in kinds else None
    score = score_maker(data, score_question) if "dpo" in kinds else None
    if sft is None and crit is None and score is None:
        return
    scores: dict[int, float] = {}
    for oid, gold in data.gold.items():
        if sft is not None and (found := sft(oid, gold)) is not None:
            yield "sft", found
        if crit is not None:
            for row in crit(oid, gold):
                yield "criteria", row
        if score is not None and (value := score(oid, gold)) is not None:
            scores[oid] = value
    if score is not None:
        data.keep_scores(score_question, scores)


def _spool_pairs(path: Path, sidecar: Path,
                 pairs: Iterable[tuple[str, tuple[dict[str, Any], dict[str, Any]]]],
                 keys: set[str]) -> int:
    """Preference records and their sidecar rows (without ``row``: numbered per split file
    when dealt) as ``_spool_lines``."""
    encode = _ENCODE
    n = 0
    with open(path, "w", encoding="utf-8") as f, open(sidecar, "w", encoding="utf-8") as g:
        for key, (rec, side) in pairs:
            keys.add(key)
            k = encode(key)
            f.write(f"{k}\t{encode(rec)}\n")
            g.write(f"{k}\t{encode({f: v for f, v in side.items() if f != 'row'})}\n")
            n += 1
    return n


def _deal_lines(spool: Path, splits: dict[str, str], paths: dict[str, Path], *,
                renumber: bool) -> dict[str, int]:
    """``_deal`` of a ``_spool_lines`` file; ``renumber``: each sidecar row gets ``row``,
    its record's line in its split file, as its first key (as ``{**row, "row": i}``)."""
    loads = json.loads
    n = dict.fromkeys(SPLITS, 0)

    def lines() -> Iterator[tuple[str, str]]:
        with open(spool, encoding="utf-8") as f:
            for line in f:
                key, _, rest = line.partition("\t")
                name = splits[loads(key)]
                if renumber:
                    rest = f'{{"row": {n[name]}, {rest[1:]}' if rest[1] != "}" \
                        else f'{{"row": {n[name]}}}\n'
                    n[name] += 1
                yield name, rest

    return _write_splits(lines(), paths)


def _write_splits(lines: Iterable[tuple[str, str]], paths: dict[str, Path]) -> dict[str, int]:
    """Each (split, line) to that split's file; the files appear whole or not at all."""
    n = dict.fromkeys(SPLITS, 0)
    tmps = {name: p.with_name(f".{p.name}.partial") for name, p in paths.items()}
    try:
        with contextlib.ExitStack() as stack:
            files = {name: stack.enter_context(open(tmp, "w", encoding="utf-8"))
                     for name, tmp in tmps.items()}
            for name, line in lines:
                files[name].write(line)
                n[name] += 1
        for name, tmp in tmps.items():
            os.replace(tmp, paths[name])
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
    return n


_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode  # write_jsonl's


def _criteria_table(rows: Path, columns: list[str], splits: dict[str, str]) -> TableRows:
    """``criteria.csv``: the criteria records with their split, a chunk at a time (rows as
    tuples: a frame of dicts infers each column as one of tuples does); no row: the frame
    of no dicts."""
    import pandas as pd

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        for chunk in _unspool(rows):
            yield [(*values, splits[k]) for k, values in chunk]

    columns = [*columns, "split"] if columns else []
    return TableRows(columns, chunks, empty=lambda: pd.DataFrame([]))
