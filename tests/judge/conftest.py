"""Fixtures for the judge: a fake OpenAI server on 127.0.0.1, a small project, fast retries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend

from medreview.domain.records import CaseRecord, CriterionRecord, Located, Message, OutputRecord
from medreview.judge.config import JudgeConfig
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.rubrics.templates import load_template
from medreview.services.projects import add_form
from medreview.storage.ingest import ingest
from medreview.storage.project import Project, create_project


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(hang_s=1.5) as srv:
        yield srv


def fast_config(url: str, **kw: Any) -> JudgeConfig:
    """Tiny backoff and timeouts so fault tests stay fast."""
    base = JudgeConfig(base_url=url, model="fake-judge", backoff_base_s=0.001,
                       backoff_max_s=0.01, retry_after_cap_s=0.01, timeout_s=0.5,
                       concurrency=3, max_retries=4)
    return replace(base, **kw)


def build_project(path: Path, forms: tuple[str, ...] = ("healthbench", "medval"),
                  n_cases: int = 3, models: tuple[str, ...] = ("model-a", "model-b"),
                  extra_records: tuple[Any, ...] = ()) -> Project:
    project = create_project(path, "judge test")
    for key in forms:
        add_form(project, load_template(key))
    records: list[Located] = []
    for i in range(n_cases):
        cid = f"case-{i}"
        records.append(Located(CaseRecord(
            external_id=cid,
            messages=(Message("user", f"Case {i}: chest pain for {i + 1} hours, what to do?"),),
            criteria=(CriterionRecord("urgent", "Advises calling emergency services now.", 8.0),
                      CriterionRecord("overconfident", "Gives a definite diagnosis.", -4.0)),
        ), "test", len(records) + 1))
        for m in models:
            records.append(Located(OutputRecord(cid, m, f"{m} answer to case {i}: call 911."),
                                   "test", len(records) + 1))
    records += [Located(r, "test", len(records) + n + 1) for n, r in enumerate(extra_records)]
    ingest(project, records, source="test", importer="test")
    return project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = build_project(tmp_path / "proj")
    yield p
    p.close()
