"""load_config: the layers, their precedence, and the text of every kind of problem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from gangway.config import load_config
from gangway.errors import ConfigError, ValueSource

from ..conftest import WriteConfig

ROOT_CONFIG = Path(__file__).parents[3] / "pipeline.toml"


def problems_of(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> list[str]:
    """The rendered lines of the ConfigError that loading `path` must raise."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {}, secrets_dir=secrets_dir, overrides=overrides)
    return str(caught.value).splitlines()


def test_minimal_file_loads_with_defaults(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={})

    assert config.app.name == "notes"
    assert config.image.repository == "notes"
    assert config.registry.address == "127.0.0.1:5000"
    assert config.scan.fail_on == ["HIGH", "CRITICAL"]
    assert config.environments.production.health.ready_path == "/ready"
    assert config.environments.production.migrations.command == ["app", "migrate"]
    assert config.notifications.webhooks == []


def test_root_pipeline_toml_loads_with_an_empty_environment() -> None:
    config = load_config(ROOT_CONFIG, environ={})

    assert config.app.name == "notes"
    assert config.environments.staging.docker_host == ""
    assert config.environments.production.docker_host == ""
    assert config.registry.address == "127.0.0.1:5000"
    # the sample app's database is the accessory gangway runs: no secret to give
    assert config.environments.production.secrets == []
    assert config.environments.production.database.kind == "accessory"
    assert config.notifications.webhooks == []


def test_unknown_key_suggests_the_close_one(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml.replace("port = 8081", "prot = 8081"))

    assert f"{path}: environments.production.prot: unknown key; did you mean 'port'?" in (
        problems_of(path)
    )


def test_unknown_key_far_from_any_lists_the_allowed_keys(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + "\n[proxy]\nflavour = 'x'\n")

    assert problems_of(path) == [f"{path}: proxy.flavour: unknown key; allowed keys: image"]


def test_unknown_section_is_an_unknown_key(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml + "\n[registy]\naddress = 'x:1'\n")

    assert problems_of(path) == [f"{path}: registy: unknown key; did you mean 'registry'?"]


def test_a_string_for_a_port_names_the_key_and_the_value(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml.replace("port = 8081", 'port = "abc"'))

    assert problems_of(path) == [
        f"{path}: environments.production.port: expected a port number: a whole number "
        "from 1 to 65535, such as 8080 (got 'abc')"
    ]


def test_missing_production_section_is_reported(write_config: WriteConfig) -> None:
    path = write_config(
        '[app]\nname = "notes"\n[environments.staging]\nport = 1\npreview_port = 2\n'
    )

    assert problems_of(path) == [f"{path}: environments.production: required section is missing"]


def test_missing_environments_says_which_sections_to_add(write_config: WriteConfig) -> None:
    path = write_config('[app]\nname = "notes"\n')

    assert problems_of(path) == [
        f"{path}: environments: required section is missing; "
        "add [environments.staging] and [environments.production]"
    ]


def test_bad_duration_says_what_is_accepted(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml + '\n[environments.production.health]\ntimeout = "5 sec"\n')

    assert problems_of(path) == [
        f"{path}: environments.production.health.timeout: expected a duration such as "
        "'30s', '1m30s' or '250ms' (got '5 sec')"
    ]


def test_all_problems_are_reported_at_once(write_config: WriteConfig) -> None:
    path = write_config(
        """\
[app]
name = "Notes"

[environments.staging]
port = 8080
preview_port = 8180
pul = "always"

[environments.production]
port = 8081
preview_port = 8181

[environments.production.watch]
window = "soon"
"""
    )

    assert problems_of(path) == [
        f"{path}: app.name: expected lowercase letters, digits and '-', starting with a letter, "
        "at most 41 characters (it names the containers <name>-blue and <name>-green) "
        "(got 'Notes')",
        f"{path}: environments.staging.pul: unknown key; did you mean 'pull'?",
        f"{path}: environments.production.watch.window: expected a duration such as '30s', "
        "'1m30s' or '250ms' (got 'soon')",
    ]


def test_toml_syntax_error_gives_line_and_column(write_config: WriteConfig) -> None:
    path = write_config('[app]\nname = "notes"\nport 8080\n')

    assert problems_of(path) == [
        f"{path}:3:6: invalid TOML: Expected '=' after a key in a key/value pair"
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.toml"

    assert problems_of(path) == [f"{path}: file not found"]


def test_a_directory_instead_of_a_file_is_a_config_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: cannot read the file: Is a directory"]


def test_env_override_wins_over_the_file(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={"GANGWAY_ENVIRONMENTS__PRODUCTION__PORT": "9090"})

    assert config.environments.production.port == 9090


def test_invalid_env_value_names_the_variable(minimal_config: Path) -> None:
    lines = problems_of(minimal_config, environ={"GANGWAY_ENVIRONMENTS__PRODUCTION__PORT": "abc"})

    assert lines == [
        f"{minimal_config}: environments.production.port: expected a port number: a whole "
        "number from 1 to 65535, such as 8080 (got 'abc', from "
        "GANGWAY_ENVIRONMENTS__PRODUCTION__PORT)"
    ]


def test_env_var_pointing_into_nothing_is_an_unknown_key(minimal_config: Path) -> None:
    lines = problems_of(minimal_config, environ={"GANGWAY_ENVIRONMENTS__PRODUCTON__PORT": "9090"})

    assert lines == [
        f"{minimal_config}: environments.producton: unknown key; did you mean 'production'? "
        "(from GANGWAY_ENVIRONMENTS__PRODUCTON__PORT)"
    ]


def test_env_json_array_is_used_as_an_array(minimal_config: Path) -> None:
    config = load_config(
        minimal_config,
        environ={"GANGWAY_ENVIRONMENTS__STAGING__SECRETS": '["DATABASE_URL", "API_KEY"]'},
    )

    assert config.environments.staging.secrets == ["DATABASE_URL", "API_KEY"]


def test_env_value_that_is_not_json_stays_a_string(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={"GANGWAY_APP__DESCRIPTION": "[draft] notes"})

    assert config.app.description == "[draft] notes"


def test_env_table_keys_keep_their_case(minimal_config: Path) -> None:
    config = load_config(
        minimal_config, environ={"GANGWAY_ENVIRONMENTS__STAGING__ENV__LOG_LEVEL": "debug"}
    )

    assert config.environments.staging.env == {"LOG_LEVEL": "debug"}


def test_env_durations_and_booleans_are_read_from_strings(minimal_config: Path) -> None:
    config = load_config(
        minimal_config,
        environ={
            "GANGWAY_ENVIRONMENTS__STAGING__WATCH__WINDOW": "2m",
            "GANGWAY_IMAGE__PIP_NO_INDEX": "true",
        },
    )

    assert config.environments.staging.watch.window.total_seconds() == 120
    assert config.image.pip_no_index is True


def test_steering_variables_are_not_config_keys(minimal_config: Path, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    environ = {
        "GANGWAY_CONFIG": "elsewhere.toml",
        "GANGWAY_SECRETS_DIR": str(secrets),
        "GANGWAY_AIRGAPPED": "0",
        "OTHER_TOOL_SETTING": "x",
    }

    assert load_config(minimal_config, environ=environ).app.name == "notes"


def test_env_item_index_beyond_the_list_is_reported(minimal_config: Path) -> None:
    lines = problems_of(
        minimal_config, environ={"GANGWAY_NOTIFICATIONS__WEBHOOKS__2__URL": "https://x.test/"}
    )

    assert lines == [
        f"{minimal_config}: notifications.webhooks.2.url: no item 2 in notifications.webhooks, "
        "which has 0 (items count from 0) (from GANGWAY_NOTIFICATIONS__WEBHOOKS__2__URL)"
    ]


def test_env_var_below_a_plain_value_is_reported(minimal_config: Path) -> None:
    lines = problems_of(minimal_config, environ={"GANGWAY_APP__NAME__FIRST": "x"})

    assert lines == [
        f"{minimal_config}: app.name.first: cannot be set: app.name is not a table "
        "(from GANGWAY_APP__NAME__FIRST)"
    ]


def test_environ_defaults_to_the_process_environment(
    minimal_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANGWAY_ENVIRONMENTS__STAGING__PORT", "7070")

    assert load_config(minimal_config).environments.staging.port == 7070


def write_secret(directory: Path, key: str, value: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / key
    path.write_text(value, encoding="utf-8")
    return path


def test_secret_file_supplies_the_registry_password(
    write_config: WriteConfig, minimal_toml: str, tmp_path: Path
) -> None:
    path = write_config(minimal_toml + '\n[registry]\nusername = "deploy"\n')
    write_secret(tmp_path / "secrets", "registry.password", "s3cret-pw\n")

    config = load_config(path, environ={}, secrets_dir=tmp_path / "secrets")

    assert config.registry.password is not None
    assert config.registry.password.get_secret_value() == "s3cret-pw"


def test_secrets_dir_comes_from_the_environment(
    write_config: WriteConfig, minimal_toml: str, tmp_path: Path
) -> None:
    path = write_config(minimal_toml + '\n[registry]\nusername = "deploy"\n')
    write_secret(tmp_path / "secrets", "registry.password", "s3cret-pw")

    config = load_config(path, environ={"GANGWAY_SECRETS_DIR": str(tmp_path / "secrets")})

    assert config.registry.password is not None
    assert config.registry.password.get_secret_value() == "s3cret-pw"


def test_secret_file_can_create_a_webhook_by_index(minimal_config: Path, tmp_path: Path) -> None:
    write_secret(tmp_path / "secrets", "notifications.webhooks.0.url", "https://hooks.test/T0")

    config = load_config(minimal_config, environ={}, secrets_dir=tmp_path / "secrets")

    (webhook,) = config.notifications.webhooks
    assert webhook.url.get_secret_value() == "https://hooks.test/T0"
    assert webhook.format == "json"


def test_env_wins_over_a_secret_file(minimal_config: Path, tmp_path: Path) -> None:
    write_secret(tmp_path / "secrets", "app.description", "from the file")

    config = load_config(
        minimal_config,
        environ={"GANGWAY_APP__DESCRIPTION": "from env"},
        secrets_dir=tmp_path / "secrets",
    )

    assert config.app.description == "from env"


def test_invalid_secret_value_is_redacted_and_names_the_file(
    minimal_config: Path, tmp_path: Path
) -> None:
    secret = write_secret(tmp_path / "secrets", "notifications.webhooks.0.url", "ftp://tok3n@x")

    lines = problems_of(minimal_config, secrets_dir=tmp_path / "secrets")

    assert lines == [
        f"{minimal_config}: notifications.webhooks.0.url: expected an http:// or https:// URL "
        f"(got [REDACTED], from secret file {secret})"
    ]


def test_missing_secrets_dir_is_reported(minimal_config: Path, tmp_path: Path) -> None:
    lines = problems_of(minimal_config, secrets_dir=tmp_path / "nowhere")

    assert lines == [f"{tmp_path / 'nowhere'}: secrets directory not found"]


def test_hidden_entries_of_the_secrets_dir_are_ignored(
    minimal_config: Path, tmp_path: Path
) -> None:
    write_secret(tmp_path / "secrets", "..data", "volume bookkeeping")

    assert load_config(minimal_config, environ={}, secrets_dir=tmp_path / "secrets")


def test_cli_override_wins_over_env(minimal_config: Path) -> None:
    config = load_config(
        minimal_config,
        environ={"GANGWAY_ENVIRONMENTS__PRODUCTION__PORT": "9090"},
        overrides={"environments.production.port": 9191},
    )

    assert config.environments.production.port == 9191


def test_invalid_override_names_the_override(minimal_config: Path) -> None:
    lines = problems_of(minimal_config, overrides={"environments.staging.pull": "sometimes"})

    assert lines == [
        f"{minimal_config}: environments.staging.pull: Input should be 'always', 'missing' or "
        "'never' (got 'sometimes', from override environments.staging.pull)"
    ]


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE"])
def test_airgapped_profile_uses_the_local_images(minimal_config: Path, value: str) -> None:
    config = load_config(minimal_config, environ={"GANGWAY_AIRGAPPED": value})

    assert config.image.base_image == "local/python-slim"
    assert config.image.builder_image == "local/python-build"
    assert config.image.pip_no_index is True
    assert config.proxy.image == "local/nginx"
    assert config.database.image == "local/postgres"


def test_airgapped_profile_wins_over_the_file_but_not_over_env(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[proxy]\nimage = "nginx:1.27"\n')

    config = load_config(
        path,
        environ={"GANGWAY_AIRGAPPED": "1", "GANGWAY_DATABASE__IMAGE": "local/postgres-15"},
    )

    assert config.proxy.image == "local/nginx"
    assert config.database.image == "local/postgres-15"


def test_without_the_airgapped_profile_the_public_images_are_used(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={"GANGWAY_AIRGAPPED": "no"})

    assert config.image.base_image == "python:3.12-slim"
    assert config.proxy.image == "nginx:1.27-alpine"


def test_unreadable_airgapped_value_is_reported(minimal_config: Path) -> None:
    assert problems_of(minimal_config, environ={"GANGWAY_AIRGAPPED": "maybe"}) == [
        "GANGWAY_AIRGAPPED: expected 1, true or yes (air-gapped profile on) or 0, false, no "
        "(off) (got 'maybe')"
    ]


def test_port_collision_between_environments_is_reported_at_the_second(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml.replace("port = 8081", "port = 8180"))

    assert problems_of(path) == [
        f"{path}: environments.production.port: port 8180 is already used by "
        "environments.staging.preview_port on the same Docker host (got 8180)"
    ]


def test_same_ports_on_different_docker_hosts_are_fine(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(
        minimal_toml.replace("port = 8081", "port = 8080")
        .replace("preview_port = 8181", "preview_port = 8180")
        .replace(
            "[environments.production]\n",
            '[environments.production]\ndocker_host = "ssh://deploy@prod.test"\n',
        )
    )

    config = load_config(path, environ={})

    assert config.environments.production.port == config.environments.staging.port


def test_origin_names_the_file_and_the_layers_never_values(
    minimal_config: Path, tmp_path: Path
) -> None:
    write_secret(tmp_path / "secrets", "app.description", "secret description")

    config = load_config(
        minimal_config,
        environ={"GANGWAY_ENVIRONMENTS__STAGING__PORT": "7070", "GANGWAY_AIRGAPPED": "1"},
        secrets_dir=tmp_path / "secrets",
    )

    assert config.origin is not None
    assert config.origin.file == str(minimal_config)
    assert config.origin.overrides == (
        ValueSource("airgapped"),
        ValueSource("secret", str(tmp_path / "secrets" / "app.description")),
        ValueSource("env", "GANGWAY_ENVIRONMENTS__STAGING__PORT"),
    )
