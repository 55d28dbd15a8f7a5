"""The dialect layer and the PostgreSQL schema agree with SQLite's, on the real server."""

from __future__ import annotations

import sqlite3

from fieldscreen.store.postgres import PostgresDatabase, translate
from fieldscreen.store.postgres_schema import MIGRATIONS as SERVER_MIGRATIONS
from fieldscreen.store.postgres_schema import PRIMARY_KEYS, SCHEMA
from fieldscreen.store.schema import MIGRATIONS


def test_parameters_and_upserts_are_translated():
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '%?'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?'")
    assert translate("INSERT OR REPLACE INTO profile (key, value) VALUES (?, ?)") == (
        "INSERT INTO profile (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
    assert translate("INSERT OR IGNORE INTO devices (device_id) VALUES (?)") == (
        "INSERT INTO devices (device_id) VALUES (%s) ON CONFLICT DO NOTHING")


def _sqlite_tables() -> dict[str, set[str]]:
    connection = sqlite3.connect(":memory:")
    import sqlite_utils

    db = sqlite_utils.Database(connection)
    for migration in MIGRATIONS:
        migration.apply(db)
    return {name: {row[1] for row in connection.execute(f"PRAGMA table_info({name})")}
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_server_schema_has_every_table_and_column_of_sqlite_and_the_keys_we_upsert_on(
        postgres_server, postgres_url, tmp_path):
    database = PostgresDatabase(postgres_url, tmp_path)
    database.close()
    name = postgres_url.rsplit("/", 1)[1]
    with postgres_server.admin(name) as connection:
        columns: dict[str, set[str]] = {}
        for table, column in connection.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s", [SCHEMA]):
            columns.setdefault(table, set()).add(column)
        keys: dict[str, tuple[str, ...]] = {}
        for table, column in connection.execute(
                "SELECT tc.table_name, kcu.column_name FROM "
                "information_schema.table_constraints tc JOIN "
                "information_schema.key_column_usage kcu USING (constraint_schema, "
                "constraint_name) WHERE tc.constraint_type = 'PRIMARY KEY' AND "
                "tc.table_schema = %s ORDER BY kcu.ordinal_position", [SCHEMA]):
            keys[table] = (*keys.get(table, ()), column)
    columns.pop("schema_migrations")
    keys.pop("schema_migrations")
    # Who may read which rows is the server's alone (row-level security): no SQLite table.
    assert set(columns.pop("row_access")) == {"role_name", "kind", "scope"}
    assert columns == _sqlite_tables()
    assert keys == PRIMARY_KEYS


def test_opening_again_applies_no_migration_twice(postgres_url, tmp_path):
    for _ in range(2):
        database = PostgresDatabase(postgres_url, tmp_path)
        assert database.schema_version == SERVER_MIGRATIONS[-1].number
        database.close()


def test_a_role_given_a_ready_schema_and_no_right_to_create_opens_it(postgres_server,
                                                                      postgres_url, tmp_path):
    """The administrator's way of docs/postgresql.md: the role owns the schema, nothing more."""
    name = postgres_url.rsplit("/", 1)[1]
    role = "fs_owner_" + name[-6:]
    with postgres_server.admin(name) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'owner pw'")
        connection.execute(f"REVOKE CREATE ON DATABASE {name} FROM PUBLIC")
        connection.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {role}")
    try:
        database = PostgresDatabase(postgres_server.url(name, user=role, password="owner pw"),
                                    tmp_path)
        assert database.schema_version == SERVER_MIGRATIONS[-1].number
        database.close()
    finally:
        with postgres_server.admin(name) as connection:
            connection.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
            connection.execute(f"DROP OWNED BY {role}")
            connection.execute(f"DROP ROLE {role}")


def test_the_check_reads_every_table_and_fails_when_one_cannot_be_read(postgres_server,
                                                                        postgres_url,
                                                                        tmp_path):
    database = PostgresDatabase(postgres_url, tmp_path)
    try:
        steps = []
        assert database.integrity_check(lambda: steps.append(1))
        assert len(steps) == len(PRIMARY_KEYS)
        with postgres_server.admin(postgres_url.rsplit("/", 1)[1]) as connection:
            connection.execute(f"DROP TABLE {SCHEMA}.partner_messages")
        assert not database.integrity_check()
    finally:
        database.close()
