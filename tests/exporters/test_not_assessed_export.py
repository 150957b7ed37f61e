"""Exports say "N/A" and "cannot assess" with the reason: the judgments table and the audit
history (``exporters.not_assessed``)."""

from __future__ import annotations

import json
from pathlib import Path

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE, cannot_assess_value
from medreview.exporters.tables import judgments_flat, write_table
from medreview.services.study import export_audit
from medreview.storage.tables import outputs_table
from tests.judge.conftest import build_project
from tests.stats.test_not_assessed_stats import _write


def test_judgments_and_audit_exports_name_them(tmp_path: Path) -> None:
    project = build_project(tmp_path / "p", forms=("healthbench",), n_cases=1,
                            models=("model-a",))
    oid = int(outputs_table(project)["output_id"].iloc[0])
    _write(project, [
        ("Dr. A", oid, {"criterion:urgent": True, "criterion:overconfident": NOT_APPLICABLE}),
        ("Dr. B", oid, {"criterion:urgent": False,
                        CANNOT_ASSESS_KEY: cannot_assess_value("other", "no vitals")}),
    ])
    flat = judgments_flat(project, pseudonymise=False)
    rows = {(r["rater"], r["question_id"]): r["value"] for r in flat.to_dict("records")}
    assert rows[("Dr. A", "criterion:overconfident")] == "N/A"
    assert rows[("Dr. A", "criterion:urgent")] is True
    assert rows[("Dr. A", "score")] == 1.0
    # the cannot-assess judgment is one row with its reason; what was typed before is not
    assert [(q, v) for (r, q), v in rows.items() if r == "Dr. B"] == [
        (CANNOT_ASSESS_KEY, "Other: no vitals")]
    csv = write_table(flat, tmp_path / "judgments", "csv").read_text(encoding="utf-8")
    assert "N/A" in csv and "Other: no vitals" in csv and NOT_APPLICABLE not in csv

    (history, _gold) = export_audit(project, tmp_path / "audit", "jsonl", pseudonymise=False)
    audit = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    by_rater = {a["rater"]: a for a in audit}
    assert by_rater["Dr. A"]["not_applicable"] == "criterion:overconfident"
    assert by_rater["Dr. A"]["cannot_assess"] == ""
    assert by_rater["Dr. B"]["cannot_assess"] == "Other: no vitals"
    assert by_rater["Dr. B"]["answers"][CANNOT_ASSESS_KEY]["reason"] == "other"  # as stored
    project.close()
