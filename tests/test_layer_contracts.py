"""The SQL contract covers every part of medreview but storage, including parts added later."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_but_storage_is_forbidden_sqlalchemy() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"][
        "importlinter"]["contracts"]
    sql = next(c for c in contracts if c.get("forbidden_modules") == ["sqlalchemy", "alembic"])
    parts = {f"medreview.{p.stem if p.is_file() else p.name}"
             for p in (ROOT / "medreview").iterdir()
             if (p.is_dir() and (p / "__init__.py").exists())
             or (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))}
    assert set(sql["source_modules"]) == parts - {"medreview.storage"}


def test_every_package_but_storage_is_forbidden_the_orm_rows() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"][
        "importlinter"]["contracts"]
    sql = next(c for c in contracts if c.get("forbidden_modules") == ["sqlalchemy", "alembic"])
    rows = next(c for c in contracts
                if c.get("forbidden_modules") == ["medreview.storage.models"])
    assert set(rows["source_modules"]) == set(sql["source_modules"])
