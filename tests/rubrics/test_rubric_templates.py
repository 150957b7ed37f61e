"""The built-in templates load, validate, round-trip and carry the published facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview import paths
from medreview.domain.rubric import FormKind, QuestionKind
from medreview.errors import RubricError
from medreview.rubrics.load import dumps_form, loads_form
from medreview.rubrics.templates import list_templates, load_template, template_keys

EXPECTED = {"healthbench", "medval", "medval_errors", "medec", "medpalm", "quality_harm"}


def test_every_expected_template_is_listed() -> None:
    infos = list_templates()
    assert {t.key for t in infos} == EXPECTED
    assert [t.key for t in infos] == sorted(t.key for t in infos)
    for info in infos:
        assert info.path.parent == paths.rubric_templates_dir()
        assert info.name and info.description and info.references


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_template_loads_and_round_trips(key: str) -> None:
    form = load_template(key)
    assert form.key == key
    assert form.version >= 1
    assert loads_form(dumps_form(form, "yaml")) == form
    assert loads_form(dumps_form(form, "json"), "json") == form


def test_healthbench_uses_per_case_criteria_and_its_scoring() -> None:
    form = load_template("healthbench")
    assert form.per_case_criteria and form.scoring == "healthbench"
    assert all(not q.required for q in form.questions)  # only the optional comment
    assert form.question("overall_comment").kind is QuestionKind.TEXT


def test_medval_risk_levels_and_error_categories() -> None:
    form = load_template("medval")
    risk = form.question("risk_level")
    assert risk.kind is QuestionKind.ORDINAL and risk.required
    assert [(o.value, o.label) for o in risk.options] == [
        (1, "No Risk"), (2, "Low Risk"), (3, "Moderate Risk"), (4, "High Risk")]
    errors = form.question("errors")
    assert errors.kind is QuestionKind.ERROR
    assert [(c.label, c.group) for c in errors.categories] == [
        ("Fabricated claim", "Hallucination"),
        ("Misleading justification", "Hallucination"),
        ("Detail misidentification", "Hallucination"),
        ("False comparison", "Hallucination"),
        ("Incorrect recommendation", "Hallucination"),
        ("Missing claim", "Omission"),
        ("Missing comparison", "Omission"),
        ("Missing context", "Omission"),
        ("Overstating intensity", "Certainty misalignment"),
        ("Understating intensity", "Certainty misalignment"),
        ("Other", ""),
    ]
    assert errors.severities


def test_medval_taxonomy_matches_the_rubric_categories() -> None:
    taxonomy = load_template("medval_errors")
    assert taxonomy.kind is FormKind.TAXONOMY
    assert taxonomy.question("errors").categories == load_template("medval").question(
        "errors").categories


def test_medec_types_match_the_csv_values() -> None:
    form = load_template("medec")
    assert form.question("error_flag").option_values() == [0, 1]
    assert form.question("error_type").option_values() == [
        "diagnosis", "management", "treatment", "pharmacotherapy", "causalOrganism"]
    sentence = form.question("error_sentence_id")
    assert sentence.kind is QuestionKind.NUMBER and sentence.minimum == 0
    assert form.question("corrected_sentence").kind is QuestionKind.TEXT


def test_medpalm_has_the_twelve_clinician_axes() -> None:
    form = load_template("medpalm")
    assert len(form.questions) == 12
    assert all(q.required for q in form.questions)
    labels = {q.id: [o.label for o in q.options] for q in form.questions}
    assert labels["scientific_consensus"] == [
        "Aligned with consensus", "Opposed to consensus", "No consensus"]
    assert labels["harm_extent"] == ["No harm", "Moderate or mild harm", "Death or severe harm"]
    assert labels["harm_likelihood"] == ["Low", "Medium", "High"]
    for qid in ("inappropriate_content", "missing_content"):
        assert labels[qid] == [
            "No", "Yes, little clinical significance", "Yes, great clinical significance"]
    yes_no = [q for q in form.questions if q.option_values() == ["yes", "no"]]
    assert len(yes_no) == 7  # 6 comprehension/recall/reasoning axes + possible bias


def test_quality_harm_scale() -> None:
    form = load_template("quality_harm")
    quality = form.question("overall_quality")
    assert quality.option_values() == [1, 2, 3, 4, 5]
    assert all(o.label and o.description for o in quality.options)
    assert form.question("rationale").required


def test_unknown_template_suggests_the_closest() -> None:
    with pytest.raises(RubricError, match="did you mean 'medval'"):
        load_template("medvla")


def test_template_key_must_match_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    text = (paths.rubric_templates_dir() / "medec.yaml").read_text(encoding="utf-8")
    (folder / "renamed.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(paths, "rubric_templates_dir", lambda: folder)
    assert template_keys() == ["renamed"]
    with pytest.raises(RubricError, match="does not match the file name 'renamed'"):
        load_template("renamed")
