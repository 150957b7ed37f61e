"""Tiny inline-SVG chart primitives for the HTML report (no plotting library, no JS)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

W, H, PAD = 560, 300, 48


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _frame(title: str, body: list[str], w: int = W, h: int = H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>'
            f'<text x="8" y="14" font-size="12" font-weight="bold">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def error_bars(title: str, labels: Sequence[str], values: Sequence[float],
               lows: Sequence[float], highs: Sequence[float], lo: float = -1.0,
               hi: float = 1.0) -> str:
    """Horizontal point estimates with CI whiskers, one row per label."""
    n = max(len(labels), 1)
    h = PAD + 22 * n + 30
    left, right = 260, W - 20

    def x(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) / (hi - lo) * (right - left)

    body = [f'<line x1="{_fmt(x(0))}" y1="20" x2="{_fmt(x(0))}" y2="{h - 30}" '
            'stroke="#999" stroke-dasharray="3,3"/>']
    for t in (lo, (lo + hi) / 2, hi):
        body.append(f'<text x="{_fmt(x(t))}" y="{h - 12}" font-size="10" '
                    f'text-anchor="middle">{t:g}</text>')
    for i, (lab, v, a, b) in enumerate(zip(labels, values, lows, highs, strict=True)):
        y = 30 + 22 * i
        body.append(f'<text x="{left - 6}" y="{y + 4}" font-size="11" '
                    f'text-anchor="end">{escape(lab)}</text>')
        if math.isfinite(a) and math.isfinite(b):
            body.append(f'<line x1="{_fmt(x(a))}" y1="{y}" x2="{_fmt(x(b))}" y2="{y}" '
                        'stroke="#444"/>')
        if math.isfinite(v):
            body.append(f'<circle cx="{_fmt(x(v))}" cy="{y}" r="4" fill="#1f77b4"/>')
        else:
            body.append(f'<text x="{left + 4}" y="{y + 4}" font-size="10" '
                        'fill="#a00">undefined</text>')
    return _frame(title, body, W, h)


def heatmap(title: str, names: Sequence[str], matrix: Sequence[Sequence[float]]) -> str:
    """Square rater x rater matrix, values in [-1, 1] coloured blue (high) to red (low)."""
    n = len(names)
    cell = max(24, min(60, 360 // max(n, 1)))
    off = 120
    size = off + cell * n + 10
    body = []
    for i, a in enumerate(names):
        body.append(f'<text x="{off - 4}" y="{off + cell * i + cell / 2 + 4}" font-size="10" '
                    f'text-anchor="end">{escape(a)}</text>')
        body.append(f'<text x="{off + cell * i + cell / 2}" y="{off - 6}" font-size="10" '
                    f'text-anchor="middle">{escape(a)}</text>')
        for j in range(n):
            v = matrix[i][j]
            if math.isfinite(v):
                t = (min(max(v, -1.0), 1.0) + 1) / 2
                color = f"rgb({int(255 * (1 - t))},{int(120 + 80 * t)},{int(255 * t)})"
                label = f"{v:.2f}"
            else:
                color, label = "#eee", "–"
            body.append(f'<rect x="{off + cell * j}" y="{off + cell * i}" width="{cell}" '
                        f'height="{cell}" fill="{color}" stroke="#fff"/>')
            body.append(f'<text x="{off + cell * j + cell / 2}" y="{off + cell * i + cell / 2 + 4}"'
                        f' font-size="10" text-anchor="middle">{label}</text>')
    return _frame(title, body, size, size)


def histogram_groups(title: str, groups: dict[str, Sequence[float]], bins: int = 10) -> str:
    """Overlaid step histograms (one per group) on a shared axis."""
    allv = [v for vs in groups.values() for v in vs if math.isfinite(v)]
    if not allv:
        return _frame(title, ['<text x="20" y="40">no numeric scores</text>'])
    lo, hi = min(allv), max(allv)
    if hi == lo:
        hi = lo + 1
    width = (hi - lo) / bins
    counts = {g: [0] * bins for g in groups}
    for g, vs in groups.items():
        for v in vs:
            if math.isfinite(v):
                counts[g][min(int((v - lo) / width), bins - 1)] += 1
    total = {g: max(sum(c), 1) for g, c in counts.items()}
    top = max(c / total[g] for g in counts for c in counts[g]) or 1
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    body = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#333"/>']
    bw = (W - 10 - PAD) / bins
    for k, g in enumerate(groups):
        col = colors[k % len(colors)]
        pts = []
        for b in range(bins):
            y = H - PAD - (counts[g][b] / total[g]) / top * (H - 2 * PAD)
            pts += [f"{_fmt(PAD + bw * b)},{_fmt(y)}", f"{_fmt(PAD + bw * (b + 1))},{_fmt(y)}"]
        body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{col}" '
                    'stroke-width="2"/>')
        body.append(f'<text x="{W - 150}" y="{20 + 14 * k}" font-size="11" fill="{col}">'
                    f'{escape(g)} (n={sum(counts[g])})</text>')
    for b in (0, bins):
        body.append(f'<text x="{_fmt(PAD + bw * b)}" y="{H - PAD + 14}" font-size="10" '
                    f'text-anchor="middle">{lo + width * b:.3g}</text>')
    return _frame(title, body)


def reliability(title: str, conf: Sequence[float], rate: Sequence[float],
                counts: Sequence[int]) -> str:
    """Reliability diagram: diagonal, one marker per non-empty bin (area ~ count)."""
    size = 320
    a, b = PAD, size - PAD

    def sx(v: float) -> float:
        return a + v * (b - a)

    def sy(v: float) -> float:
        return b - v * (b - a)

    body = [f'<rect x="{a}" y="{a}" width="{b - a}" height="{b - a}" fill="none" '
            'stroke="#333"/>',
            f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="#999" '
            'stroke-dasharray="4,3"/>',
            f'<text x="{size / 2}" y="{size - 10}" font-size="11" text-anchor="middle">'
            'mean confidence</text>',
            f'<text x="12" y="{size / 2}" font-size="11" transform="rotate(-90 12 {size / 2})" '
            'text-anchor="middle">observed rate</text>']
    nmax = max([c for c in counts if c] or [1])
    for c, r, n in zip(conf, rate, counts, strict=True):
        if n and math.isfinite(c) and math.isfinite(r):
            rad = 2 + 8 * math.sqrt(n / nmax)
            body.append(f'<circle cx="{_fmt(sx(c))}" cy="{_fmt(sy(r))}" r="{_fmt(rad)}" '
                        f'fill="#1f77b4" fill-opacity="0.7"><title>n={n}</title></circle>')
    return _frame(title, body, size, size)
