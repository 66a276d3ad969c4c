"""GANGWAY_TEST_DATABASE_URL against a real server: databases made and dropped there."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.support.pg import PostgresServer, PostgresUnavailable, free_port


@pytest.fixture(scope="module")
def running() -> Iterator[PostgresServer]:
    """A server someone else started (here: a cluster of our own, stopped at the end)."""
    with PostgresServer() as server:
        yield server


def test_databases_are_created_and_dropped_on_the_existing_server(
    running: PostgresServer,
) -> None:
    external = PostgresServer.for_tests({"GANGWAY_TEST_DATABASE_URL": running.url()})
    external.start()
    name = external.create_database()
    with psycopg.connect(external.url(name), connect_timeout=10) as connection:
        assert connection.execute("select current_database()").fetchone() == (name,)
    external.drop_database(name)
    with psycopg.connect(running.url(), connect_timeout=10) as connection:
        found = connection.execute("select 1 from pg_database where datname = %s", (name,))
        assert found.fetchone() is None


def test_stopping_it_leaves_the_server_running(running: PostgresServer) -> None:
    external = PostgresServer.existing(running.url())
    external.start()
    external.stop()
    with psycopg.connect(running.url(), connect_timeout=10) as connection:
        assert connection.execute("select 1").fetchone() == (1,)


def test_an_unreachable_server_says_which_variable_to_fix() -> None:
    external = PostgresServer.existing(f"postgresql://postgres:pw@127.0.0.1:{free_port()}/x")
    with pytest.raises(PostgresUnavailable, match="GANGWAY_TEST_DATABASE_URL: cannot connect"):
        external.start()
