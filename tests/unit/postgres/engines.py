"""The two engines of the coordinator store, as one parametrized fixture.

`engine_url` is None for SQLite (the default, the local file) and a fresh PostgreSQL
database's URL on the session's real server (tests/postgres_server.py) for PostgreSQL.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))
