"""load(dump(form)) == form for generated forms of every question kind, in YAML and JSON."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from rubric_strategies import forms

from medreview.domain.rubric import Form, form_to_dict
from medreview.rubrics.load import dump_form, dumps_form, load_form, loads_form, parse_form

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(forms())
def test_parse_of_canonical_dict_is_identity(form: Form) -> None:
    assert parse_form(form_to_dict(form), "generated") == form


@FAST
@given(forms())
def test_yaml_text_round_trip(form: Form) -> None:
    again = loads_form(dumps_form(form, "yaml"), "yaml")
    assert again == form
    assert again.sha256 == form.sha256


@FAST
@given(forms())
def test_json_text_round_trip(form: Form) -> None:
    assert loads_form(dumps_form(form, "json"), "json") == form


@settings(max_examples=20, deadline=None)
@given(forms())
def test_file_round_trip_by_extension(tmp_path_factory: object, form: Form) -> None:
    folder: Path = tmp_path_factory.mktemp("rt")  # type: ignore[attr-defined]
    for name in ("form.yaml", "form.yml", "form.json"):
        dump_form(form, folder / name)
        assert load_form(folder / name) == form
    assert not list(folder.glob(".*.tmp"))  # the atomic write leaves nothing behind
