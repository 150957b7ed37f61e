"""package_zip.check_manifest's outputs test on all entries at once (C loops) against the
entry-by-entry test it replaced (kept here): the same acceptance, and a refusal naming the
same first bad entry, on hundreds of manifests with hostile tokens and entries."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from medreview.errors import PackageError
from medreview.study.package_zip import FORMAT, ROOT, check_manifest

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def reference_outputs_check(outputs: dict[Any, Any]) -> str | None:
    """The item the entry-by-entry test refused first (the code before), or None."""
    for token, entry in outputs.items():
        if not _HEX32.fullmatch(token) or not isinstance(entry, dict) or not isinstance(
                entry.get("text_sha256"), str) or not _HEX64.fullmatch(entry["text_sha256"]):
            return f"outputs.{str(token)[:40]}"
    return None


def _manifest(outputs: dict[Any, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "package_uid": "a" * 32, "project_uid": "p", "rater":
            {"name": "Dr A", "kind": "physician"}, "outputs": outputs,
            "files": {f"{ROOT}/project.sqlite": {"sha256": "b" * 64, "size": 1}},
            "seal": "c" * 64, "seal_key": "d" * 64}


def _item(outputs: dict[Any, Any]) -> str | None:
    try:
        check_manifest(_manifest(outputs), "pkg.mrpkg")
    except PackageError as exc:
        assert exc.reason == "package manifest output entry is not a token with a text_sha256"
        return exc.item
    return None


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _bad_token(rng: random.Random) -> Any:
    good = _hex(rng, 32)
    return rng.choice([good[:31], good + "0", good.upper(), good[:31] + "g", good[:31] + "\n",
                       good[:31] + "٣", good[:31] + " ", "", good[:16] + "-" + good[17:]])


def _bad_entry(rng: random.Random) -> Any:
    sha = _hex(rng, 64)
    return rng.choice([None, [], sha, 7, {}, {"text_sha256": None}, {"text_sha256": 5},
                       {"text_sha256": sha[:63]}, {"text_sha256": sha + "a"},
                       {"text_sha256": sha.upper()}, {"text_sha256": sha[:63] + "\u0660"},
                       {"text_sha": sha}, {"text_sha256": [sha]}])


@pytest.mark.parametrize("seed", range(4))
def test_same_refusals_as_the_entry_by_entry_test(seed: int) -> None:
    rng = random.Random(seed)
    refused = 0
    for _ in range(100):
        outputs: dict[Any, Any] = {}
        for _ in range(rng.randint(0, 40)):
            token = _bad_token(rng) if rng.random() < 0.03 else _hex(rng, 32)
            entry = _bad_entry(rng) if rng.random() < 0.03 else {
                "text_sha256": _hex(rng, 64), **({"extra": 1} if rng.random() < 0.1 else {})}
            outputs[token] = entry
        want = reference_outputs_check(outputs)
        assert _item(outputs) == want, outputs
        refused += want is not None
    assert 10 < refused < 90


def test_a_large_well_formed_list_passes_and_one_bad_entry_is_named() -> None:
    rng = random.Random(1)
    outputs = {_hex(rng, 32): {"text_sha256": _hex(rng, 64)} for _ in range(5000)}
    assert _item(outputs) is None
    token = list(outputs)[2500]
    outputs[token] = {"text_sha256": "A" * 64}
    assert _item(outputs) == f"outputs.{token}"
