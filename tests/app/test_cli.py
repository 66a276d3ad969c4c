"""The command line: migrate against a real database, and the stdlib-only healthcheck."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.app.conftest import ServerProcess, app_env, run_app
from tests.support.pg import PostgresServer, free_port


def _tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_migrate_creates_the_schema_and_is_idempotent(database_url: str) -> None:
    first = run_app("migrate", env=app_env(DATABASE_URL=database_url))
    assert first.returncode == 0, first.stderr
    assert "applied 0001: create the notes table" in first.stdout.splitlines()
    assert _tables(database_url) == {"alembic_version", "notes"}

    second = run_app("migrate", env=app_env(DATABASE_URL=database_url))
    assert second.returncode == 0, second.stderr
    assert "database schema already up to date" in second.stdout.splitlines()
    assert "applied" not in second.stdout


def test_migrate_reads_the_url_from_a_secret_file(database_url: str, tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(database_url + "\n")
    result = run_app("migrate", env=app_env(DATABASE_URL_FILE=str(secret)))
    assert result.returncode == 0, result.stderr
    assert "notes" in _tables(database_url)


def test_migrate_fails_with_exit_1_and_no_password_when_database_is_down(
    postgres: PostgresServer,
) -> None:
    url = f"postgresql://postgres:topsecret-pw@127.0.0.1:{free_port()}/nowhere"
    result = run_app("migrate", env=app_env(DATABASE_URL=url))
    assert result.returncode == 1
    assert result.stderr.startswith("error: migration failed: OperationalError")
    assert "Traceback" not in result.stderr
    assert "topsecret-pw" not in result.stderr + result.stdout


def test_healthcheck_passes_against_a_running_server(
    server_env: dict[str, str], start_server: type[ServerProcess]
) -> None:
    server = start_server(server_env)
    server.wait_until_listening()
    result = run_app("healthcheck", env=app_env(PORT=server_env["PORT"]))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_healthcheck_fails_when_nothing_listens() -> None:
    port = free_port()
    result = run_app("healthcheck", env=app_env(PORT=str(port)))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines == [f"unhealthy: cannot reach 127.0.0.1:{port}: Connection refused"]


def test_healthcheck_fails_when_health_is_503(
    postgres: PostgresServer, start_server: type[ServerProcess]
) -> None:
    env = app_env(
        DATABASE_URL=f"postgresql://postgres:pw@127.0.0.1:{free_port()}/gone",
        PORT=str(free_port()),
        HOST="127.0.0.1",
    )
    server = start_server(env)
    server.wait_until_listening()
    result = run_app("healthcheck", env=app_env(PORT=env["PORT"]))
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy: /health answered 503: ")
    assert len(result.stderr.splitlines()) == 1


def test_healthcheck_imports_only_the_standard_library() -> None:
    probe = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "from sample_app.__main__ import main\n"
        "code = main(['healthcheck'])\n"
        "loaded = sorted({m.split('.')[0] for m in set(sys.modules) - before})\n"
        "print(json.dumps({'code': code, 'loaded': loaded}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=app_env(PORT=str(free_port())),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    outcome = json.loads(result.stdout)
    assert outcome["code"] == 1
    third_party = [
        name
        for name in outcome["loaded"]
        if name not in sys.stdlib_module_names and name != "sample_app"
    ]
    assert third_party == []


def test_migrate_pending_lists_revisions_with_their_source_and_changes_nothing(
    database_url: str,
) -> None:
    before = run_app("migrate", "--pending", env=app_env(DATABASE_URL=database_url))
    assert before.returncode == 0, before.stderr
    report = json.loads(before.stdout.splitlines()[-1])
    assert report["current"] == []
    assert report["head"] == ["0001"]
    assert [p["revision"] for p in report["pending"]] == ["0001"]
    assert report["pending"][0]["path"] == "0001_create_notes.py"
    assert report["pending"][0]["description"] == "create the notes table"
    assert "def upgrade() -> None:" in report["pending"][0]["source"]
    assert _tables(database_url) == set()

    assert run_app("migrate", env=app_env(DATABASE_URL=database_url)).returncode == 0
    after = run_app("migrate", "--pending", env=app_env(DATABASE_URL=database_url))
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == {"current": ["0001"], "head": ["0001"], "pending": []}
