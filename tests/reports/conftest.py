"""The known week (tests/reports/history.py), built once per database kind for the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reports.history import Week, build


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def week(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('week')) / 'mash.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_server").new_database()
    built = build(url)
    yield built
    built.hub.close()
