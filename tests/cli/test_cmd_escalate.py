"""``medreview escalate`` on the demo project: rules set with --set, a dry run that writes
nothing, the run, a second run that adds nothing, the list, and bad rules as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.cli.main import main


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_escalate_sets_previews_applies_and_is_idempotent(
        demo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = str(demo_copy)
    assert main(["escalate", p, "--dry-run"]) == 0
    assert "set a rule" in capsys.readouterr().out
    preview = _json(capsys, ["escalate", p, "--set",
                             'severe=major,disagreement=0.5,senior="Dr Senior A;Dr Senior B"',
                             "--dry-run", "--json"])
    assert isinstance(preview, dict) and not preview["applied"]
    planned = preview["escalated"]
    assert planned and {e["senior"] for e in planned} == {"Dr Senior A", "Dr Senior B"}
    assert all(e["reason"].startswith(("severe harm rated by", "disagreement "))
               for e in planned)
    listed = _json(capsys, ["escalate", p, "--list", "--json"])
    assert listed == []  # the dry run wrote nothing (the rules were stored)
    done = _json(capsys, ["escalate", p, "--json"])
    assert isinstance(done, dict) and done["applied"]
    assert [e["output_id"] for e in done["escalated"]] == [e["output_id"] for e in planned]
    # Half each, give or take one: the fewest open escalations first.
    seniors = [e["senior"] for e in done["escalated"]]
    assert abs(seniors.count("Dr Senior A") - seniors.count("Dr Senior B")) <= 1
    again = _json(capsys, ["escalate", p, "--json"])
    assert isinstance(again, dict) and again["escalated"] == []
    assert main(["escalate", p, "--list"]) == 0
    out = capsys.readouterr().out
    assert "severe harm at or above major or disagreement above 0.5" in out
    assert "Dr Senior A" in out and "todo" in out


@pytest.mark.parametrize(("rules", "says"), [
    ("severe=catastrophic", "no error question has the severity catastrophic"),
    ("disagreement=2", "share from 0"),
    ("speed=3", "unknown rule"),
])
def test_bad_rules_are_one_line(demo_copy: Path, capsys: pytest.CaptureFixture[str],
                                rules: str, says: str) -> None:
    assert main(["escalate", str(demo_copy), "--set", rules]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err


@pytest.mark.sqlite_only(reason="--watch is for server projects; a folder project refuses it")
def test_watch_on_a_folder_project_is_one_line(demo_copy: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["escalate", str(demo_copy), "--watch"]) == 2
    err = capsys.readouterr().err.strip()
    assert "server projects" in err and "\n" not in err and "Traceback" not in err
