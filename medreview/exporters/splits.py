"""Train / validation / test splits by case: no case's records ever appear in two splits.

Cases are sorted by key, shuffled with ``random.Random(seed)`` and cut by the fractions
(largest remainder, so the counts add up exactly). The same keys and seed always give the
same split, whatever order the records arrive in.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from medreview.errors import InputError

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
    quotas = [f * n for f in fractions]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def assign_splits(
    case_keys: Iterable[str],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, str]:
    """Case key -> split name."""
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions):
        raise InputError("split fractions must be three non-negative numbers (train, val, test)")
    total = sum(fractions)
    if abs(total - 1.0) > 1e-6:
        raise InputError(f"split fractions must add up to 1 (they add up to {total:g})")
    keys = sorted(set(case_keys))
    random.Random(seed).shuffle(keys)
    out: dict[str, str] = {}
    start = 0
    for name, n in zip(SPLITS, _counts(len(keys), fractions), strict=True):
        for k in keys[start : start + n]:
            out[k] = name
        start += n
    return out


def split_records(
    records: Sequence[tuple[str, dict[str, Any]]], splits: Mapping[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """Group ``(case key, record)`` pairs by the split of their case."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    for key, rec in records:
        out[splits[key]].append(rec)
    return out


# json.dumps(rec, ensure_ascii=False, default=str) builds this encoder on every call
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def write_jsonl(records: Iterable[dict[str, Any]], path: Path) -> Path:
    """One JSON object per line, UTF-8, written to a temporary name and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        encode = _ENCODER.encode
        with open(tmp, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(encode(rec) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_split_files(
    records: Sequence[tuple[str, dict[str, Any]]],
    outdir: Path,
    stem: str,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    splits: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write ``<stem>.<split>.jsonl`` for each split; return split -> path."""
    splits = splits or assign_splits([k for k, _ in records], fractions, seed)
    grouped = split_records(records, splits)
    return {name: write_jsonl(grouped[name], outdir / f"{stem}.{name}.jsonl") for name in SPLITS}
