"""project_stats on a synthetic project, and the HTML report built from it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from medreview.errors import StatsError
from medreview.progress import Cancelled, CancelToken
from medreview.stats.agreement import gwet_ac
from medreview.stats.project import POOLED_CRITERIA, project_stats
from medreview.stats.report import render_html
from medreview.stats.tables import to_wide
from tests.stats import synthetic


@pytest.fixture(scope="module")
def project():  # type: ignore[no-untyped-def]
    df = synthetic.ratings()
    return df, project_stats(df, synthetic.questions(), synthetic.gold(df), by="rater",
                             ci=False, per_criterion=True)


def test_agreement_table(project) -> None:  # type: ignore[no-untyped-def]
    df, ps = project
    a = ps.agreement
    for col in ("statistic", "value", "ci_low", "ci_high", "n_items", "n_raters",
                "disagreeing_output_ids"):
        assert col in a.columns
    assert {"overall", "safe", "minutes", POOLED_CRITERIA} <= set(a["question_id"])
    row = a[(a["question_id"] == "safe") & (a["scope"] == "physicians")
            & (a["statistic"] == "gwet_ac1")].iloc[0]
    phys = df[(df["rater_kind"] == "physician") & (df["question_id"] == "safe")]
    wide = to_wide(phys)
    assert row["value"] == pytest.approx(gwet_ac(wide, categories=[False, True],
                                                 ci=False).value)
    dis = [o for o, r in wide.iterrows() if len({v for v in r if v is not None}) > 1]
    assert row["disagreeing_output_ids"] == sorted(dis)
    pooled = a[(a["question_id"] == POOLED_CRITERIA) & (a["scope"] == "physicians")]
    assert pooled["n_items"].max() > a[(a["question_id"] == "criterion:c1")]["n_items"].max()
    assert (a["scope"] == "rater_pair").any()
    assert (ps.errors["category"] == "omission").any()


def test_single_criteria_only_on_request_and_without_intervals() -> None:
    df = synthetic.ratings()
    default = project_stats(df, synthetic.questions(), ci=True).agreement
    assert not default["question_id"].str.match(r"criterion:[^*]").any()
    pooled = default[default["question_id"] == POOLED_CRITERIA]
    assert pooled["ci_low"].notna().any()
    detailed = project_stats(df, synthetic.questions(), ci=True, per_criterion=True).agreement
    single = detailed[detailed["question_id"] == "criterion:c1"]
    assert not single.empty and single["ci_low"].isna().all()


def test_judge_tables(project) -> None:  # type: ignore[no-untyped-def]
    _, ps = project
    j = ps.judge
    refs = set(j["reference"])
    assert {"physicians", "physician:dr_a", "gold", "physician_majority"} <= refs
    assert {"pooled", "majority"} <= set(j["variant"])
    assert {"ece", "brier"} <= set(j[j["variant"] == "calibration"]["statistic"])
    assert not ps.ceiling.empty and not ps.calibration.empty
    assert set(ps.calibration.groupby(["question_id", "judge"]).size()) == {10}


def test_json_and_methods(project) -> None:  # type: ignore[no-untyped-def]
    _, ps = project
    data = json.loads(ps.to_json())
    assert set(data) >= {"agreement", "judge", "ceiling", "calibration", "errors", "meta"}
    text = ps.methods_table()
    assert "Krippendorff's alpha (ordinal metric)" in text
    assert "Gwet AC2 (Gwet ordinal weights)" in text


def test_report_is_self_contained(project) -> None:  # type: ignore[no-untyped-def]
    _, ps = project
    html = render_html(ps, "Demo <study>")
    assert html.startswith("<!DOCTYPE html>") and "Demo &lt;study&gt;" in html
    assert html.count("<svg") >= 4
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_by_model_progress_and_cancel() -> None:
    df = synthetic.ratings(n_outputs=12, seed=3)
    seen: list[tuple[int, int | None]] = []
    ps = project_stats(df, synthetic.questions(), by="model", ci=False,
                       progress=lambda d, t=None, m="": seen.append((d, t)))
    assert set(ps.agreement["group"]) >= {"m1", "m2"}
    assert seen[-1][0] == seen[-1][1]
    tok = CancelToken()
    tok.cancel()
    with pytest.raises(Cancelled):
        project_stats(df, synthetic.questions(), token=tok)
    with pytest.raises(StatsError):
        project_stats(df.drop(columns="rater_kind"), synthetic.questions())
    dup = df.iloc[np.r_[0, 0]]
    with pytest.raises(StatsError, match="twice"):
        project_stats(dup, synthetic.questions())


def test_multi_rater_rows_conger_light_and_reml_icc(project) -> None:  # type: ignore[no-untyped-def]
    from medreview.stats.agreement import conger_kappa, icc, light_kappa

    df, ps = project
    a = ps.agreement[ps.agreement["scope"] == "physicians"]

    def row(q: str, stat: str):  # type: ignore[no-untyped-def]
        return a[(a["question_id"] == q) & (a["statistic"] == stat)].iloc[0]

    phys = df[df["rater_kind"] == "physician"]
    safe = to_wide(phys[phys["question_id"] == "safe"])
    assert row("safe", "conger_kappa")["value"] == pytest.approx(
        conger_kappa(safe, categories=[False, True], ci=False).value, abs=1e-12)
    assert row("safe", "light_kappa")["value"] == pytest.approx(
        light_kappa(safe, categories=[False, True], ci=False).value, abs=1e-12)
    overall = to_wide(phys[phys["question_id"] == "overall"])
    assert row("overall", "light_kappa_quadratic")["value"] == pytest.approx(
        light_kappa(overall, categories=[1, 2, 3, 4, 5], weights="quadratic",
                    ci=False).value, abs=1e-12)
    assert "Conger's kappa (quadratic weights)" in set(a["method"])
    minutes = to_wide(phys[phys["question_id"] == "minutes"]).astype(float)
    reml = row("minutes", "icc_a1_reml")
    assert reml["value"] == pytest.approx(icc(minutes, missing="reml", ci=False).value)
    assert reml["n_items"] > row("minutes", "icc_a1")["n_items"]  # no listwise deletion
    # Rater pairs (two raters) get Cohen's kappa, not Conger/Light rows.
    pairs = ps.agreement[ps.agreement["scope"] == "rater_pair"]
    assert not pairs["statistic"].str.startswith(("conger", "light")).any()
    methods = ps.methods_table()
    assert "Conger's kappa" in methods and "Light's kappa" in methods and "REML" in methods
    stats_json = json.loads(ps.to_json())
    assert {"conger_kappa", "light_kappa"} <= {r["statistic"] for r in stats_json["agreement"]}
    assert "Light&#x27;s kappa" in render_html(ps, "t") or "Light's kappa" in render_html(ps, "t")
