"""The text output of ``medreview stats`` says why a statistic is undefined, not just "—"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.cli.main import main
from tests.importers.test_rating_validation import RUBRIC


def test_undefined_statistic_shows_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "p"
    assert main(["init", str(proj)]) == 0
    rubric = tmp_path / "mini.json"
    rubric.write_text(json.dumps(RUBRIC), encoding="utf-8")
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "prompt": f"Q{i}", "model": "m", "output": f"A{i}"}) + "\n"
            for i in range(4)
        ),
        encoding="utf-8",
    )
    # Two physicians who agree on one constant value: chance-corrected agreement is 0/0.
    ratings = tmp_path / "r.csv"
    ratings.write_text(
        "case_id,model,rater,q:accuracy\n"
        + "".join(f"c{i},m,{r},2\n" for i in range(4) for r in ("dr_a", "dr_b")),
        encoding="utf-8",
    )
    assert main(["import", str(proj), str(cases), str(ratings), "--rubric", str(rubric)]) == 0
    capsys.readouterr()
    assert main(["stats", str(proj), "--no-ci", "--real-names"]) == 0
    out = capsys.readouterr().out
    rows = [x for x in out.splitlines() if x.startswith("accuracy") and "undefined [" in x]
    assert rows, out
    n = rows[0].split("undefined [", 1)[1].split("]", 1)[0]
    notes = [x.strip() for x in out.splitlines() if x.strip().startswith(f"[{n}] ")]
    assert len(notes) == 1 and len(notes[0]) > len(f"[{n}] ") + 5, out
    # The JSON carries the same reason.
    assert main(["stats", str(proj), "--no-ci", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    reasons = {r["note"].removeprefix("undefined: ") for r in data["agreement"] if r["note"]}
    assert notes[0].split("] ", 1)[1] in reasons
