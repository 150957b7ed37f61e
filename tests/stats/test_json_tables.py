"""``ProjectStats.to_json`` / ``write_json`` (stats/json_tables.py) write, byte for byte, what
the row-by-row ``to_dict("records")`` + ``clean`` + ``json.dumps`` wrote, kept here as the
reference: on hostile tables of every column kind, on real statistics, in slices of any size."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medreview.stats.json_tables import write_tables_json
from medreview.stats.project import ProjectStats, project_stats
from tests.stats import golden_cases, synthetic


def reference_to_json(stats: ProjectStats) -> str:
    """The implementation before stats/json_tables.py, as it was."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
            return clean(v.item())
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    out: dict[str, Any] = {"meta": dict(stats.meta)}
    for name, t in stats.tables().items():
        out[name] = [{k: clean(v) for k, v in r.items()} for r in t.to_dict("records")]
    return json.dumps(out, default=str)


def _hostile(n: int = 23) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    floats = rng.normal(size=n)
    floats[[1, 5, 9]] = [np.nan, np.inf, -np.inf]
    floats[2] = -0.0
    floats[3] = 1e308
    objects: list[Any] = [None, np.float64("nan"), np.int64(3), (1, float("nan")),
                          [np.float64(1.5), None, (np.inf,)], {"a": float("nan")},
                          "unicode ✓ \u202e رسالة", 'quote" \\ back', pd.Timestamp("2026-01-02"),
                          dt.datetime(2026, 1, 2, tzinfo=dt.UTC), Decimal("1.10"), np.bool_(True),
                          True, 7, 2.5, float("inf"), np.float32(0.1), b"bytes", (), [],
                          pd.NA, np.datetime64("2026-01-01"), np.int8(-3)]
    return pd.DataFrame({
        "f": floats,
        "i": np.arange(n, dtype=np.int64) - 5,
        "u": np.arange(n, dtype=np.uint8),
        "b": np.arange(n) % 3 == 0,
        "f32": np.where(np.abs(floats) > 1e30, 1e30, floats).astype(np.float32),
        "cat": pd.Categorical(["a", None, "ß"] * (n // 3) + ["a"] * (n % 3)),
        "intcat": pd.Categorical([1, None, 3] * (n // 3) + [1] * (n % 3)),
        "obj": pd.Series((objects * 2)[:n], dtype=object),
        "s": pd.Series(["x", None, "y"] * (n // 3) + ["z"] * (n % 3), dtype="string"),
        "I": pd.Series([1, None, 3] * (n // 3) + [4] * (n % 3), dtype="Int64"),
        "F": pd.Series([1.5, None, np.nan] * (n // 3) + [4.0] * (n % 3), dtype="Float64"),
        "t": pd.to_datetime(["2026-01-01", None, "2026-02-03"] * (n // 3)
                            + ["2026-03-04"] * (n % 3)),
        "td": pd.to_timedelta(np.arange(n), unit="s"),
    })


def _stats(tables: dict[str, pd.DataFrame], meta: dict[str, Any] | None = None) -> ProjectStats:
    empty = pd.DataFrame()
    base = {k: tables.get(k, empty) for k in ("agreement", "judge", "ceiling", "calibration",
                                               "errors", "scores")}
    return ProjectStats(**base, meta=meta or {"ci": False, "when": dt.date(2026, 1, 1)},
                        not_assessed=tables.get("not_assessed"))


@pytest.mark.parametrize("per_slice", [1, 2, 7, 50_000])
def test_hostile_tables_byte_for_byte(per_slice: int) -> None:
    frame = _hostile()
    stats = _stats({"agreement": frame, "judge": frame.iloc[:0], "ceiling": frame.iloc[:, :0],
                    "scores": frame.iloc[::-1], "errors": pd.DataFrame(index=range(3)),
                    "not_assessed": frame.iloc[:4]})
    buffer = io.StringIO()
    write_tables_json(buffer, stats.meta, stats.tables().items(), per_slice=per_slice)
    assert buffer.getvalue() == reference_to_json(stats)


def test_real_statistics_byte_for_byte() -> None:
    df = synthetic.ratings()
    for stats in (project_stats(df, synthetic.questions(), synthetic.gold(df), by="rater",
                                ci=False, per_criterion=True),
                  project_stats(*golden_cases.mixed(), ci=True, by="model"),
                  project_stats(*golden_cases.demo(), ci=False)):
        text = stats.to_json()
        assert text == reference_to_json(stats)
        buffer = io.StringIO()
        stats.write_json(buffer)
        assert buffer.getvalue() == text
        assert len(json.loads(text)["scores"]) == len(stats.scores) > 0


def _fast_kinds(n: int = 29) -> pd.DataFrame:
    """Only the column kinds written without a dict per row (stats/json_tables._encoded)."""
    rng = np.random.default_rng(9)
    floats = rng.normal(size=n) * 10.0 ** rng.integers(-300, 300, size=n)
    floats[[0, 4, 8, 12]] = [np.nan, np.inf, -np.inf, -0.0]
    floats[1], floats[2] = 5e-324, 0.1 + 0.2
    texts = ['plain', 'quote" \\ back', "unicode ✓ \u202e رسالة", "100%", "\x00\x1f\n", ""]
    return pd.DataFrame({
        "f": floats,
        "i": rng.integers(-2**62, 2**62, size=n),
        "u8": np.arange(n, dtype=np.uint8),
        "b": np.arange(n) % 3 == 0,
        "cat": pd.Categorical([texts[k % 6] if k % 5 else None for k in range(n)]),
        "obj": pd.Series([texts[k % 6] for k in range(n)], dtype=object),
        'key with "quotes" and %s, %d': np.arange(n, dtype=np.int64),
        "ключ": rng.normal(size=n),
    })


@pytest.mark.parametrize("per_slice", [1, 4, 50_000])
def test_columns_written_without_records_byte_for_byte(per_slice: int) -> None:
    from medreview.stats.json_tables import _encoded

    frame = _fast_kinds()
    assert all(_encoded(frame.iloc[:, k]) is not None for k in range(frame.shape[1]))
    stats = _stats({"scores": frame, "agreement": frame.iloc[3:9]})
    buffer = io.StringIO()
    write_tables_json(buffer, stats.meta, stats.tables().items(), per_slice=per_slice)
    assert buffer.getvalue() == reference_to_json(stats)
