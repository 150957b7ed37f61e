"""``medreview stats`` on the demo project: text tables, JSON and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.cli.main import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stats") / "demo"
    assert main(["demo", "--no-gui", str(path)]) == 0
    return path


def test_stats_text_has_methods_table_with_cis(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["stats", str(demo)]) == 0
    out = capsys.readouterr().out
    assert "Agreement among physicians" in out
    line = next(
        x for x in out.splitlines() if "krippendorff_alpha_nominal" in x and "criterion:*" in x
    )
    cells = line.split()
    value, low, high = float(cells[3]), float(cells[4]), float(cells[6])
    assert low <= value <= high
    assert "Judge versus physicians" in out and "Methods" in out


def test_stats_json_and_report(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    report = tmp_path / "report.html"
    assert main(["stats", str(demo), "--json", "--by", "model", "--report", str(report)]) == 0
    data = json.loads(capsys.readouterr().out)
    scopes = {r["scope"] for r in data["agreement"]}
    assert {"physicians", "model"} <= scopes
    models = {r["group"] for r in data["agreement"] if r["scope"] == "model"}
    assert models == {"gpt-clinic-1", "medllm-7b", "carebot-v2"}
    assert data["judge"] and data["calibration"]
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    # Self-contained: nothing is loaded from elsewhere (the SVG namespace URI is not a fetch).
    for ref in ('src="http', "src='http", 'href="http', "<link", "@import", "url(http"):
        assert ref not in html
