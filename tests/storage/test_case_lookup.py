"""storage.case_lookup: case criteria keys and output identities, as plain values."""

from __future__ import annotations

import hashlib
from pathlib import Path

from medreview.storage.case_lookup import case_criterion_keys, output_ids_by_identity
from medreview.storage.ingest import ingest
from medreview.storage.project import create_project
from tests.storage.helpers import case, located, output
from tests.storage.study_helpers import assert_plain


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_criteria_keys_and_output_identities(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        ingest(project, located([
            case("c1", criteria=3), case("c2", criteria=0),
            output("c1", "m-a", "answer A"), output("c1", "m-b", "answer B"),
            output("c2", "m-a", "answer A"),
        ]), source="t", importer="test")
        keys = case_criterion_keys(project)
        assert_plain(keys)
        assert keys == {"c1": frozenset({"c0", "c1", "c2"})}  # c2 has none: absent
        ids = output_ids_by_identity(project)
        assert_plain(ids)
        assert set(ids) == {("c1", "m-a", _sha("answer A")), ("c1", "m-b", _sha("answer B")),
                            ("c2", "m-a", _sha("answer A"))}
        assert all(v is None or isinstance(v, str) for v in ids.values())
