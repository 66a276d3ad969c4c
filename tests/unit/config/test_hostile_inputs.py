"""One test per class of hostile input of issue 12: each is exit 2 with its place, never a bug."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gangway import cli
from gangway.config import load_config
from gangway.errors import ConfigError

from ..conftest import WriteConfig

WEBHOOK = "https://hooks.slack.com/services/T0001/B0002/s3cr3tT0kenValue"


def refusal(path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


@pytest.mark.parametrize(
    "value", ['"99999999999h"', "inf", "nan", "1e300", "100000000000000000000"]
)
def test_a_duration_beyond_any_bound_is_a_user_error(
    write_config: WriteConfig, minimal_toml: str, value: str
) -> None:
    path = write_config(minimal_toml + f"\n[environments.staging.health]\ninterval = {value}\n")

    message = refusal(path, environ={})

    assert message.startswith(f"{path}: environments.staging.health.interval: ")
    assert "at most 5m" in message or "finite" in message


def test_a_duration_beyond_its_key_bound_from_a_variable_or_secret_file(
    minimal_config: Path, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "environments.production.watch.window").write_text("99999999999h\n")

    message = refusal(
        minimal_config,
        environ={"GANGWAY_ENVIRONMENTS__STAGING__LOCK_TIMEOUT": "1e300"},
        secrets_dir=secrets,
    )

    assert message.splitlines() == [
        f"{minimal_config}: environments.staging.lock_timeout: expected a duration such as "
        "'30s', '1m30s' or '250ms' (got '1e300', from GANGWAY_ENVIRONMENTS__STAGING__LOCK_TIMEOUT)",
        f"{minimal_config}: environments.production.watch.window: must be at most 6h "
        f"(got [REDACTED], from secret file {secrets}/environments.production.watch.window)",
    ]


def test_full_width_digits_in_a_duration_are_refused(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[environments.staging.health]\ntimeout = "５s"\n')

    assert "environments.staging.health.timeout: expected a duration" in refusal(path, environ={})


def test_an_integer_of_thousands_of_digits_is_a_user_error(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    in_range_of_python = write_config(
        minimal_toml.replace("port = 8080", "port = 8080\nretain = " + "7" * 4000)
    )

    assert refusal(in_range_of_python, environ={}).endswith(
        "environments.staging.retain: Input should be less than or equal to 100 "
        "(got a number of about 4000 digits)"
    )
    beyond = write_config(minimal_toml + "\nx = " + "7" * 5000 + "\n")
    assert refusal(beyond, environ={}) == (
        f"{beyond}:12:5: invalid TOML: a number of 5000 digits; no key takes a number that long"
    )


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ("{a = ", "}")])
def test_toml_nested_thousands_deep_is_refused_with_its_position(
    write_config: WriteConfig, minimal_toml: str, opening: str, closing: str
) -> None:
    path = write_config(minimal_toml + f"x = {opening * 3000}1{closing * 3000}\n")

    message = refusal(path, environ={})

    assert message.startswith(f"{path}:11:")
    assert "nested too deeply" in message


def test_json_nested_thousands_deep_in_an_override_is_refused(minimal_config: Path) -> None:
    variable = "GANGWAY_ENVIRONMENTS__STAGING__SECRETS"

    message = refusal(minimal_config, environ={variable: "[" * 5000 + "]" * 5000})

    assert message == (
        f"{minimal_config}: environments.staging.secrets: invalid JSON: nested too deeply at "
        f"line 1, column 33 (pipeline.toml needs a few levels) (from {variable})"
    )


@pytest.mark.parametrize("index", ["²", "٣", "３"])
def test_a_list_index_of_non_ascii_digits_is_a_user_error(
    minimal_config: Path, tmp_path: Path, index: str
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / f"environments.staging.secrets.{index}").write_text("API_KEY")

    message = refusal(
        minimal_config,
        environ={f"GANGWAY_ENVIRONMENTS__PRODUCTION__SECRETS__{index}": "API_KEY"},
        secrets_dir=secrets,
    )

    lines = message.splitlines()
    assert len(lines) == 2
    assert all("is not an item number" in line for line in lines)
    assert "environments.production.secrets" in lines[0] + lines[1]
    assert "environments.staging.secrets" in lines[0] + lines[1]


def test_non_utf8_bytes_in_an_environment_value_are_a_clear_error(
    minimal_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environb, b"GANGWAY_APP__DESCRIPTION", b"caf\xe9")

    message = refusal(minimal_config)

    assert message == (
        f"{minimal_config}: app.description: the value is not UTF-8 text (byte 0xe9 at "
        "position 3); set it as UTF-8 (from GANGWAY_APP__DESCRIPTION)"
    )


def test_an_unterminated_string_at_the_end_reports_where_it_opened(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[image]\ndockerfile = """docker/Dockerfile\n\n# more\n')

    assert refusal(path, environ={}) == (
        f"{path}:13:14: invalid TOML: Unterminated string (opened here, still open at the "
        "end of the file)"
    )


def test_an_unclosed_array_at_the_end_reports_where_it_opened(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[stages]\ntest = [\n  "pytest",\n')

    message = refusal(path, environ={})

    assert message.startswith(f"{path}:13:8: invalid TOML: ")


@pytest.mark.parametrize("value", ["true", "8085.0", '"8085"'])
def test_a_port_must_be_a_whole_number_in_the_file(
    write_config: WriteConfig, minimal_toml: str, value: str
) -> None:
    path = write_config(minimal_toml.replace("port = 8080", f"port = {value}"))

    assert refusal(path, environ={}).startswith(
        f"{path}: environments.staging.port: expected a port number: a whole number from 1 to 65535"
    )


def test_a_port_from_a_variable_is_read_from_its_text(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={"GANGWAY_ENVIRONMENTS__STAGING__PORT": "8090"})

    assert config.environments.staging.port == 8090


def test_an_ssh_docker_host_needs_a_host(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml.replace("port = 8080", 'port = 8080\ndocker_host = "ssh://"'))

    assert "environments.staging.docker_host: ssh:// needs a host" in refusal(path, environ={})


def test_an_empty_image_name_is_refused(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml + '\n[proxy]\nimage = ""\n')

    assert f"{path}: proxy.image: expected an image reference" in refusal(path, environ={})


def test_an_absurd_retain_count_is_refused(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml.replace("port = 8080", "port = 8080\nretain = 4000"))

    assert refusal(path, environ={}) == (
        f"{path}: environments.staging.retain: Input should be less than or equal to 100 (got 4000)"
    )


@pytest.mark.parametrize(
    "text",
    [
        f'webhooks = "{WEBHOOK}"',
        f'webhooks = ["{WEBHOOK}"]',
        f'webhooks = [{{href = "{WEBHOOK}"}}]',
    ],
)
def test_a_webhook_in_the_wrong_shape_in_the_file_is_never_echoed(
    write_config: WriteConfig, minimal_toml: str, text: str
) -> None:
    path = write_config(minimal_toml + f"\n[notifications]\n{text}\n")

    message = refusal(path, environ={})

    assert "s3cr3t" not in message
    assert "notifications.webhooks" in message


def test_a_webhook_in_the_wrong_shape_in_an_override_is_never_echoed(minimal_config: Path) -> None:
    message = refusal(minimal_config, environ={"GANGWAY_NOTIFICATIONS__WEBHOOKS": WEBHOOK})

    assert message == (
        f"{minimal_config}: notifications.webhooks: expected an array of tables "
        "([[notifications.webhooks]] entries, each with the keys url, format, events, "
        "environments) (got [REDACTED], from GANGWAY_NOTIFICATIONS__WEBHOOKS)"
    )


def test_a_url_with_credentials_is_masked_under_any_key(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(
        minimal_toml.replace("port = 8080", 'port = 8080\nurl = "ftp://u:pw1234@host/"')
    )

    assert "pw1234" not in refusal(path, environ={})


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["plan", "--env", "staging", "--image", "Notes:1.0"], "--image"),
        (["plan", "--env", "staging", "--image", ""], "--image"),
        (["plan", "--env", "staging", "--image", "notes:1.0", "--version", "-rc"], "--version"),
        (["rollback", "--env", "staging", "--to", "../etc"], "--to"),
        (
            ["deploy", "--env", "staging", "--image", "notes:1", "--lock-wait", "99999999999h"],
            "--lock-wait",
        ),
        (["deploy", "--env", "staging", "--image", "notes:1", "--lock-wait", "５s"], "--lock-wait"),
        (["pipeline", "--version", "a b"], "--version"),
    ],
)
def test_command_line_values_are_checked_before_anything_runs(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--config", str(minimal_config), *args])

    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert f"error: argument {flag}: " in err
    assert "expected" in err or "at most" in err
    assert "Traceback" not in err
