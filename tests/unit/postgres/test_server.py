"""The test server itself: it starts as an unprivileged user and speaks on loopback only."""

from __future__ import annotations

from tests import postgres_server as pg


def test_the_server_answers_on_loopback_with_a_password(postgres_server):
    with postgres_server.admin() as connection:
        row = connection.execute("SELECT current_user, inet_server_addr()::text, "
                                 "current_setting('server_version_num')::int").fetchone()
    assert row[0] == pg.ADMIN
    assert row[1].startswith("127.0.0.1")
    assert row[2] >= 150000


def test_a_wrong_password_is_refused(postgres_server):
    import psycopg
    import pytest

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_server.url(password="not it"), connect_timeout=10).close()
