"""Self-contained HTML report of a ProjectStats: tables plus inline SVG plots (no JS/CDN)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from medreview.stats import svg
from medreview.stats.project import ProjectStats

CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:8px 0 24px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}
h2{border-bottom:1px solid #ddd;margin-top:32px}.note{color:#666;font-size:12px}
pre{background:#f7f7f7;padding:8px;font-size:11px;white-space:pre-wrap}"""

SHOW = ["question_id", "scope", "group", "category", "judge", "reference", "variant",
        "statistic", "value", "ci_low", "ci_high", "n_items", "n_raters", "method", "note",
        "paradox"]


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return escape(", ".join(map(str, v[:20])) + (" …" if len(v) > 20 else ""))
    return escape(str(v))


def html_table(df: Any, columns: list[str] | None = None) -> str:
    if df is None or df.empty:
        return '<p class="note">(no rows)</p>'
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r[c])}</td>" for c in cols) + "</tr>"
                   for r in df[cols].to_dict("records"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _score_plots(stats: ProjectStats) -> list[str]:
    out: list[str] = []
    s = stats.scores
    if s.empty:
        return out
    for qid, sub in s[s["rater_kind"] == "physician"].groupby("question_id"):
        groups = {str(m): sub[sub["model"] == m]["value"].astype(float).tolist()
                  for m in sorted(sub["model"].unique())}
        out.append(svg.histogram_groups(f"Score distribution per model: {qid}", groups))
    return out


def _agreement_plot(stats: ProjectStats) -> str:
    a = stats.agreement
    a = a[a["scope"] == "physicians"]
    if a.empty:
        return ""
    labels = [f"{q} · {s}" for q, s in zip(a["question_id"], a["statistic"], strict=True)]
    return svg.error_bars("Per-question agreement among physicians (95% CI)", labels,
                          a["value"].tolist(), a["ci_low"].tolist(), a["ci_high"].tolist())


def _heatmaps(stats: ProjectStats) -> list[str]:
    a = stats.agreement
    a = a[(a["scope"] == "rater_pair") & a["statistic"].str.startswith("cohen_kappa")]
    out = []
    for qid, sub in a.groupby("question_id"):
        pairs = [g.split(" | ") for g in sub["group"]]
        names = sorted({n for p in pairs for n in p})
        idx = {n: i for i, n in enumerate(names)}
        m = [[1.0 if i == j else math.nan for j in range(len(names))] for i in range(len(names))]
        for (x, y), v in zip(pairs, sub["value"], strict=True):
            m[idx[x]][idx[y]] = m[idx[y]][idx[x]] = float(v)
        out.append(svg.heatmap(f"Rater x rater Cohen's kappa: {qid}", names, m))
    return out


def _reliability(stats: ProjectStats) -> list[str]:
    c = stats.calibration
    out = []
    for (qid, judge), sub in c.groupby(["question_id", "judge"]):
        out.append(svg.reliability(f"Reliability diagram: {judge} on {qid}",
                                   sub["mean_confidence"].tolist(),
                                   sub["observed_rate"].tolist(), sub["count"].tolist()))
    return out


def render_html(stats: ProjectStats, title: str) -> str:
    """The full report as one HTML string (inline CSS and SVG only)."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"]
    meta = ", ".join(f"{escape(str(k))}={escape(str(v))}" for k, v in stats.meta.items())
    parts.append(f'<p class="note">{meta}</p>')
    parts.append("<h2>Score distributions per model</h2>")
    parts += _score_plots(stats)
    parts.append("<h2>Agreement among physicians</h2>")
    parts.append(_agreement_plot(stats))
    parts.append(html_table(stats.agreement, SHOW))
    heat = _heatmaps(stats)
    if heat:
        parts.append("<h2>Rater x rater agreement</h2>")
        parts += heat
    parts.append("<h2>Judge versus physicians</h2>")
    parts.append(html_table(stats.judge, SHOW))
    parts.append("<h3>Judge next to the physician ceiling</h3>")
    parts.append(html_table(stats.ceiling))
    rel = _reliability(stats)
    if rel:
        parts.append("<h3>Calibration</h3>")
        parts += rel
        parts.append(html_table(stats.calibration))
    parts.append("<h2>Error categories</h2>")
    parts.append(html_table(stats.errors, ["question_id", "category", "prevalence", *SHOW[7:]]))
    parts.append("<h2>Methods</h2>")
    parts.append(f"<pre>{escape(stats.methods_table())}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
