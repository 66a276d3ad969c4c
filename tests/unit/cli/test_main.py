"""The gangway command line: `gangway config`, its output, and the error handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gangway import cli
from gangway.cli import config as config_command

from ..conftest import WriteConfig

SECRET = "pw-Zq81-never-printed"
WEBHOOK_TOKEN = "hook-T0K3N-never-printed"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def secret_config(
    write_config: WriteConfig, minimal_toml: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A config whose registry password and webhook URL come from the environment."""
    monkeypatch.setenv("GANGWAY_REGISTRY__PASSWORD", SECRET)
    monkeypatch.setenv("GANGWAY_NOTIFICATIONS__WEBHOOKS__0__URL", f"https://h.test/{WEBHOOK_TOKEN}")
    return write_config(minimal_toml + '\n[registry]\nusername = "deploy"\n')


def test_config_prints_the_resolved_toml_after_a_comment_naming_its_sources(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANGWAY_ENVIRONMENTS__PRODUCTION__PORT", "9090")

    code, out, err = run(["--config", str(minimal_config), "config"], capsys)

    assert (code, err) == (0, "")
    first, _, body = out.partition("\n")
    assert first == (
        f"# resolved from {minimal_config}, overridden by GANGWAY_ENVIRONMENTS__PRODUCTION__PORT"
    )
    document = tomllib.loads(body)
    assert document["environments"]["production"]["port"] == 9090
    assert document["environments"]["staging"]["health"]["deploy_timeout"] == "30s"
    assert document["image"]["repository"] == "notes"


def test_printed_config_loads_back_to_the_same_config(
    minimal_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["--config", str(minimal_config), "config"], capsys)
    reprinted = tmp_path / "reprinted.toml"
    reprinted.write_text(out, encoding="utf-8")

    again, out_again, _ = run(["--config", str(reprinted), "config"], capsys)

    assert (code, again) == (0, 0)
    assert out_again.partition("\n")[2] == out.partition("\n")[2]


def test_secrets_are_redacted_in_toml_output(
    secret_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--config", str(secret_config), "config"], capsys)

    assert code == 0
    document = tomllib.loads(out)
    assert document["registry"]["password"] == "[REDACTED]"
    assert document["notifications"]["webhooks"][0]["url"] == "[REDACTED]"
    assert "GANGWAY_REGISTRY__PASSWORD" in out.splitlines()[0]
    assert SECRET not in out + err
    assert WEBHOOK_TOKEN not in out + err


def test_secrets_are_redacted_in_json_output(
    secret_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--config", str(secret_config), "config", "--json"], capsys)

    assert code == 0
    document = json.loads(out)
    assert document["registry"]["password"] == "[REDACTED]"
    assert document["notifications"]["webhooks"][0]["url"] == "[REDACTED]"
    assert document["environments"]["production"]["url"] is None
    assert SECRET not in out + err
    assert WEBHOOK_TOKEN not in out + err


def test_secret_value_never_appears_in_error_output(
    write_config: WriteConfig,
    minimal_toml: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GANGWAY_NOTIFICATIONS__WEBHOOKS__0__URL", f"ftp://{WEBHOOK_TOKEN}@h")
    path = write_config(minimal_toml)

    code, out, err = run(["--config", str(path), "config"], capsys)

    assert code == 2
    assert WEBHOOK_TOKEN not in out + err
    assert "[REDACTED]" in err


def test_env_option_prints_only_that_environment(
    minimal_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["--config", str(minimal_config), "config", "--env", "staging"], capsys)

    document = tomllib.loads(out)
    assert code == 0
    assert list(document["environments"]) == ["staging"]
    assert {"app", "image", "registry", "scan", "proxy", "database", "notifications"} <= set(
        document
    )


def test_unknown_env_names_the_available_ones(
    minimal_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--config", str(minimal_config), "config", "--env", "dev"], capsys)

    assert (code, out) == (2, "")
    assert err == (
        f"error: {minimal_config}: environments: unknown environment; available: staging, "
        "production (got 'dev', from --env)\n"
    )


def test_reference_needs_no_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, err = run(["config", "--reference"], capsys)

    assert (code, err) == (0, "")
    assert "### `[app]`" in out


def test_bad_config_prints_one_error_line_per_problem_and_exits_2(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config('[app]\nname = "Bad Name"\n')

    code, out, err = run(["--config", str(path), "config"], capsys)

    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: {path}: app.name: expected lowercase letters, digits and '-', starting with a "
        "letter, at most 41 characters (it names the containers <name>-blue and <name>-green) "
        "(got 'Bad Name')",
        f"error: {path}: environments: required section is missing; add "
        "[environments.staging] and [environments.production]",
    ]


def test_config_path_defaults_to_gangway_config(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANGWAY_CONFIG", str(minimal_config))

    code, out, _ = run(["config"], capsys)

    assert code == 0
    assert out.startswith(f"# resolved from {minimal_config}\n")


def test_config_path_defaults_to_pipeline_toml_in_the_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, _, err = run(["config"], capsys)

    assert (code, err) == (2, "error: pipeline.toml: file not found\n")


def test_global_options_are_accepted_after_the_command(
    minimal_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["config", "--config", str(minimal_config), "--json"], capsys)

    assert code == 0
    assert json.loads(out)["app"]["name"] == "notes"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["config", "--no-such-option"])

    assert caught.value.code == 2
    assert "usage: gangway" in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([])

    assert caught.value.code == 2


def test_unexpected_errors_exit_70_and_point_to_verbose(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(config_command, "load_config", broken)

    code, _, err = run(["--config", str(minimal_config), "config"], capsys)

    assert code == 70
    assert err == (
        "error: unexpected RuntimeError: disk on fire; this is a bug in gangway, please "
        "report it (run with --verbose for the traceback)\n"
    )


def test_verbose_shows_the_traceback(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(config_command, "load_config", broken)

    code, _, err = run(["--verbose", "--config", str(minimal_config), "config"], capsys)

    assert code == 70
    assert "Traceback" in err
    assert err.endswith("(run with --verbose for the traceback)\n")


def test_bad_file_in_a_real_subprocess_exits_2_without_a_traceback(
    write_config: WriteConfig,
) -> None:
    path = write_config('[app]\nname = "notes"\n[environments.production]\nport = "abc"\n')
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GANGWAY_")}

    result = subprocess.run(
        [sys.executable, "-m", "gangway", "--config", str(path), "config"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=60,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert (
        f"error: {path}: environments.production.port: expected a port number: a whole "
        "number from 1 to 65535, such as 8080 (got 'abc')"
    ) in result.stderr.splitlines()


@pytest.mark.parametrize(
    "placement",
    [["--trace", "config", "--reference"], ["config", "--reference", "--trace"]],
    ids=["before", "after"],
)
def test_trace_sets_gangway_trace_before_the_command_runs(
    placement: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set (not deleted) so that monkeypatch removes what main() writes after the test.
    monkeypatch.setenv("GANGWAY_TRACE", "0")
    seen: list[str | None] = []

    def reference() -> str:
        seen.append(os.environ.get("GANGWAY_TRACE"))
        return ""

    monkeypatch.setattr(config_command, "render_reference", reference)

    code, _, _ = run(placement, capsys)

    assert (code, seen) == (0, ["1"])


def test_without_trace_gangway_trace_is_left_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANGWAY_TRACE", "0")

    code, _, _ = run(["config", "--reference"], capsys)

    assert (code, os.environ["GANGWAY_TRACE"]) == (0, "0")


def test_help_describes_trace(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])

    assert "--trace" in capsys.readouterr().out
