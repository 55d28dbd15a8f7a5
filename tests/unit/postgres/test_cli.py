"""`--database` on the command line: where it is taken, what it refuses, what it never prints."""

from __future__ import annotations

import pytest

from fieldscreen.cli import main
from tests import postgres_server as pg
from tests.exchange_helpers import PASSPHRASE


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_a_coordinator_profile_is_made_once_on_the_server_and_nothing_else(
        capsys, tmp_path, postgres_url):
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    base = ["--basedir", str(tmp_path / "coord")]
    unlock = ["--passphrase-file", str(secret)]
    code, _out, err = run(capsys, *base, "profile", "create", "--role", "field",
                          "--database", postgres_url, *unlock)
    assert code == 1 and "Only a coordinator profile" in err
    code, out, err = run(capsys, *base, "coordinator", "devices", "--database", postgres_url,
                         *unlock)
    assert code == 1 and "holds no FieldScreen profile yet" in err
    code, out, err = run(capsys, *base, "--database", postgres_url, "profile", "create",
                         "--role", "coordinator", *unlock)
    assert code == 0, err
    code, out, err = run(capsys, *base, "profile", "create", "--role", "coordinator",
                         "--database", postgres_url, *unlock)
    assert code == 1 and "already holds a coordinator profile" in err
    # The option after the verb, deep in a group, and the profile is the server's.
    code, out, err = run(capsys, *base, "coordinator", "devices", "--json", "--database",
                         postgres_url, *unlock)
    assert code == 0, err
    assert out.strip() == "[]"
    for text in (out, err):
        assert pg.ADMIN_PASSWORD not in text


def test_a_database_that_is_not_a_postgresql_url_is_refused_without_echoing_it(capsys):
    code, _out, err = run(capsys, "--database", "mysql://root:hunter2@db/x", "coordinator",
                          "devices", "--passphrase-file", "/dev/null")
    assert code == 1
    assert "--database takes a PostgreSQL URL" in err
    assert "hunter2" not in err


@pytest.mark.parametrize("url", ["postgresql://amina:hunter2@[::1/fs",
                                 "postgresql://amina:hunter2@db/fs?colour=blue",
                                 "postgresql://amina:hunter2%zz@db/fs"])
def test_a_url_libpq_cannot_read_is_refused_before_connecting_without_echoing_it(capsys,
                                                                                 url):
    # libpq's own message quotes the URL, password included: only ours is shown.
    code, _out, err = run(capsys, "coordinator", "devices", "--database", url,
                          "--passphrase-file", "/dev/null")
    assert code == 1
    assert "The --database URL cannot be read." in err and "~/.pgpass" in err
    assert "hunter2" not in err and "amina" not in err
