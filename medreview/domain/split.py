"""A case-level train / dev / test split for judge development, fixed by a seed.

Each case falls in one part by a hash of (seed, case key) alone: a case's part never depends on
which other cases exist, so adding cases to a project never moves a case between parts (a
positional or stratified-by-rank split would). All outputs of a case share its part, so a
prompt tuned on train never sees a test case's question through a sibling answer.

The split is not stratified: stratifying needs ranks within a stratum, and ranks shift when
cases are added. With hashing, each part's share of a stratum is binomial around the fraction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from medreview.errors import InputError

Part = Literal["train", "dev", "test"]
PARTS: tuple[Part, ...] = ("train", "dev", "test")
DEFAULT_SEED = 18
DEFAULT_TEST_FRACTION = 0.4
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class SplitSpec:
    """What fixes a split: the seed and the shares of test and dev (train is the rest)."""

    seed: int = DEFAULT_SEED
    test_fraction: float = DEFAULT_TEST_FRACTION
    dev_fraction: float = 0.0

    def __post_init__(self) -> None:
        check_spec(self.seed, self.test_fraction, self.dev_fraction)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "test_fraction": self.test_fraction,
                "dev_fraction": self.dev_fraction, "method": "sha256(seed:case)"}

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "project settings") -> SplitSpec:
        """A spec read back from stored JSON; anything malformed is one clear line."""
        if not isinstance(raw, Mapping):
            raise InputError("the judge split is not an object", source=source)
        seed = raw.get("seed", DEFAULT_SEED)
        test = raw.get("test_fraction", DEFAULT_TEST_FRACTION)
        dev = raw.get("dev_fraction", 0.0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InputError(f"the judge split's seed {seed!r} is not an integer", source=source)
        for name, v in (("test_fraction", test), ("dev_fraction", dev)):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise InputError(f"the judge split's {name} {v!r} is not a number",
                                 source=source)
        return cls(seed, float(test), float(dev))


def check_spec(seed: int, test_fraction: float, dev_fraction: float) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"split seed {seed} is out of range (0 to {MAX_SEED})", item="seed")
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test fraction {test_fraction} must be above 0 and below 1",
                         item="test_fraction")
    if not 0.0 <= dev_fraction < 1.0 or test_fraction + dev_fraction >= 1.0:
        raise InputError(f"dev fraction {dev_fraction} must be at least 0 and leave some cases "
                         "for training", item="dev_fraction")


def unit_hash(seed: int, case_key: str) -> float:
    """A uniform number in [0, 1) from (seed, case key): the case's place in the split."""
    digest = hashlib.sha256(f"{seed}:{case_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def part_of(case_key: str, spec: SplitSpec) -> Part:
    u = unit_hash(spec.seed, case_key)
    if u < spec.test_fraction:
        return "test"
    if u < spec.test_fraction + spec.dev_fraction:
        return "dev"
    return "train"


def assign_split(case_keys: Iterable[str], spec: SplitSpec) -> dict[str, Part]:
    """Case key -> its part; every case in exactly one part."""
    return {str(k): part_of(str(k), spec) for k in case_keys}


def cases_in(split: Mapping[str, str], part: str) -> frozenset[str]:
    if part not in PARTS:
        raise InputError(f"unknown split {part!r}; choose one of {', '.join(PARTS)}",
                         item="split")
    return frozenset(k for k, p in split.items() if p == part)


def check_train_only(used: Iterable[str], split: Mapping[str, str], what: str) -> None:
    """Refuse anything built from a case outside train (few-shot examples, calibration fits):
    the test split must stay unseen by whatever is tuned."""
    leaked = sorted({k for k in used if split.get(k) != "train"})
    if leaked:
        raise InputError(f"{what} would use {len(leaked)} case(s) outside the training split "
                         f"(first: {leaked[0]})", item="split")
