"""tests/pg.py's GANGWAY_TEST_DATABASE_URL: an existing server instead of a new cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pg import TEST_DATABASE_VARIABLE, PostgresServer, PostgresUnavailable


def test_existing_server_is_read_from_its_admin_url() -> None:
    server = PostgresServer.existing("postgresql://admin:s%40cret@db:6543/maintenance")
    assert (server.host, server.port, server.user) == ("db", 6543, "admin")
    assert server.admin_database == "maintenance"
    assert server.external
    # Databases the tests make live on the same server, with the same (encoded) password.
    assert server.url("test_x") == "postgresql://admin:s%40cret@db:6543/test_x"


def test_existing_server_defaults_port_user_and_database() -> None:
    server = PostgresServer.existing("postgres://db")
    assert (server.port, server.user, server.admin_database) == (5432, "postgres", "postgres")


@pytest.mark.parametrize("url", ["db:5432", "mysql://root:pw@db/x", "postgresql:///only-a-path"])
def test_a_url_that_is_not_postgresql_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(PostgresUnavailable, match=TEST_DATABASE_VARIABLE) as info:
        PostgresServer.existing(url)
    assert "pw" not in str(info.value)


def test_the_variable_selects_the_existing_server() -> None:
    server = PostgresServer.for_tests({TEST_DATABASE_VARIABLE: "postgresql://u:p@db:5432/postgres"})
    assert server.external
    assert server.host == "db"


def test_without_the_variable_a_new_cluster_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.support.pg.find_bindir", lambda: Path("/pg/bin"))
    server = PostgresServer.for_tests({})
    assert not server.external
    assert server.host == "127.0.0.1"


def test_stopping_an_existing_server_does_nothing() -> None:
    server = PostgresServer.existing("postgresql://u:p@db:5432/postgres")
    server.stop()  # would run pg_ctl (and fail: there is no cluster here) if it tried
    assert server.external
