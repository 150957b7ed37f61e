"""A media import that fails on a PostgreSQL project takes back the blobs it stored in the
database (not only their local cached copies), as the folder store does with its files."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.errors import ImportFailed
from medreview.services.importing import import_file
from medreview.services.projects import create_project
from tests.importers.helpers import write
from tests.importers.test_media import _image


def test_failed_media_import_leaves_no_blob_in_the_database(pg_url: str, tmp_path: Path) -> None:
    root = tmp_path / "media"
    _image(root / "c1" / "a.png", "PNG")
    (root / "c2").mkdir()
    write(root / "c2" / "b.png", "not a png")  # the importer refuses the folder on this file
    with create_project(pg_url, "ward") as project, \
            pytest.raises(ImportFailed, match="not a valid image/png"):
        import_file(project, root, options={"left_out": []})
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        blobs = conn.execute(sa.text("SELECT count(*) FROM media_blob")).scalar_one()
        chunks = conn.execute(sa.text("SELECT count(*) FROM media_chunk")).scalar_one()
    engine.dispose()
    assert (blobs, chunks) == (0, 0)
