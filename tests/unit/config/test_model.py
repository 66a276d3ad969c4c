"""The pipeline.toml model: rules per section, defaults, and what every model promises."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel

from gangway.config import PipelineConfig, load_config
from gangway.config import environment as environment_module
from gangway.config import model as model_module
from gangway.config.types import Section
from gangway.errors import ConfigError

from ..conftest import WriteConfig


def all_models() -> list[type[BaseModel]]:
    """Every section model of pipeline.toml, wherever in gangway.config it is defined."""
    found = {
        value
        for module in (model_module, environment_module)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Section) and value is not Section
    }
    return sorted(found, key=lambda model: model.__name__)


def error_lines(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    return [line.removeprefix(f"{path}: ") for line in str(caught.value).splitlines()]


def with_section(minimal_toml: str, section: str, body: str) -> str:
    return f"{minimal_toml}\n[{section}]\n{body}\n"


@pytest.mark.parametrize("model", all_models(), ids=lambda model: model.__name__)
def test_every_model_refuses_unknown_keys(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("model", all_models(), ids=lambda model: model.__name__)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []
    assert model.__doc__


def test_image_repository_defaults_to_the_app_name(minimal_config: Path) -> None:
    assert load_config(minimal_config, environ={}).image.repository == "notes"


def test_image_repository_given_is_kept(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(with_section(minimal_toml, "image", 'repository = "team/notes"'))

    assert load_config(path, environ={}).image.repository == "team/notes"


@pytest.mark.parametrize("name", ["notes", "n", "notes-api-2", "a" + "b" * 40])
def test_valid_app_names(write_config: WriteConfig, minimal_toml: str, name: str) -> None:
    path = write_config(minimal_toml.replace('"notes"', f'"{name}"'))

    assert load_config(path, environ={}).app.name == name


@pytest.mark.parametrize("name", ["Notes", "2notes", "notes_api", "", "a" + "b" * 41, "-x"])
def test_invalid_app_names(write_config: WriteConfig, minimal_toml: str, name: str) -> None:
    path = write_config(minimal_toml.replace('"notes"', f'"{name}"'))

    (line,) = error_lines(path)
    assert line.startswith("app.name: expected lowercase letters, digits and '-'")


@pytest.mark.parametrize(
    "address", ["127.0.0.1:5000", "ghcr.io/org", "registry.example.com", "localhost:5000/a/b"]
)
def test_valid_registry_addresses(
    write_config: WriteConfig, minimal_toml: str, address: str
) -> None:
    path = write_config(with_section(minimal_toml, "registry", f'address = "{address}"'))

    assert load_config(path, environ={}).registry.address == address


@pytest.mark.parametrize(
    "address", ["https://ghcr.io/org", "ghcr.io:99999", "host:port", "a b", "ghcr.io/Org"]
)
def test_invalid_registry_addresses(
    write_config: WriteConfig, minimal_toml: str, address: str
) -> None:
    path = write_config(with_section(minimal_toml, "registry", f'address = "{address}"'))

    assert error_lines(path) == [
        "registry.address: expected host[:port][/path] without a scheme, such as "
        f"'127.0.0.1:5000' or 'ghcr.io/org' (got '{address}')"
    ]


def test_registry_password_needs_a_username(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(with_section(minimal_toml, "registry", 'password = "pw-value"'))

    assert error_lines(path) == ["registry.password: a password needs a username (got [REDACTED])"]


def test_secrets_are_masked_in_repr_and_str(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        with_section(minimal_toml, "registry", 'username = "u"\npassword = "pw-value"')
        + '\n[[notifications.webhooks]]\nurl = "https://hooks.test/tok3n"\n'
    )

    config = load_config(path, environ={})

    for text in (repr(config), str(config), repr(config.registry.password)):
        assert "pw-value" not in text
        assert "tok3n" not in text
        assert "**********" in text


@pytest.mark.parametrize(
    "docker_host", ["", "unix:///var/run/docker.sock", "tcp://h:2375", "ssh://u@h"]
)
def test_accepted_docker_hosts(
    write_config: WriteConfig, minimal_toml: str, docker_host: str
) -> None:
    path = write_config(
        minimal_toml.replace(
            "[environments.production]\n",
            f'[environments.production]\ndocker_host = "{docker_host}"\n',
        )
    )

    assert load_config(path, environ={}).environments.production.docker_host == docker_host


def test_docker_host_needs_a_known_scheme(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        minimal_toml.replace(
            "[environments.production]\n", '[environments.production]\ndocker_host = "prod:2375"\n'
        )
    )

    assert error_lines(path) == [
        'environments.production.docker_host: expected "" (the local engine), '
        "unix:///path/to/docker.sock, tcp://host:port or ssh://user@host[:port] "
        "(got 'prod:2375')"
    ]


def test_preview_port_must_differ_from_port(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(minimal_toml.replace("preview_port = 8181", "preview_port = 8081"))

    assert error_lines(path) == [
        "environments.production.preview_port: must differ from port (got 8081)"
    ]


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_ports_must_be_in_range(write_config: WriteConfig, minimal_toml: str, port: int) -> None:
    path = write_config(minimal_toml.replace("port = 8081", f"port = {port}"))

    (line,) = error_lines(path)
    assert line.startswith("environments.production.port: Input should be")
    assert line.endswith(f"(got {port})")


def test_effective_url_is_derived_from_address_and_port(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={})

    assert config.environments.production.effective_url == "http://127.0.0.1:8081"


def test_effective_url_of_an_ipv6_address_is_bracketed(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(
        minimal_toml.replace(
            "[environments.production]\n", '[environments.production]\naddress = "::1"\n'
        )
    )

    assert (
        load_config(path, environ={}).environments.production.effective_url == "http://[::1]:8081"
    )


def test_explicit_url_wins(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        minimal_toml.replace(
            "[environments.production]\n",
            '[environments.production]\nurl = "https://notes.example.com/"\n',
        )
    )

    config = load_config(path, environ={})

    assert config.environments.production.effective_url == "https://notes.example.com"


def test_address_must_be_an_ip(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        minimal_toml.replace(
            "[environments.staging]\n", '[environments.staging]\naddress = "localhost"\n'
        )
    )

    assert error_lines(path) == [
        "environments.staging.address: expected an IP address such as '127.0.0.1' or '0.0.0.0' "
        "(got 'localhost')"
    ]


def test_secret_names_must_be_upper_case(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        minimal_toml.replace(
            "[environments.staging]\n", '[environments.staging]\nsecrets = ["db_url"]\n'
        )
    )

    assert error_lines(path) == [
        "environments.staging.secrets.0: expected an upper-case environment variable name such "
        "as 'DATABASE_URL' (got 'db_url')"
    ]


def test_env_values_must_be_strings(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(with_section(minimal_toml, "environments.staging.env", "WORKERS = 4"))

    assert error_lines(path) == [
        "environments.staging.env.WORKERS: Input should be a valid string (got 4)"
    ]


def test_health_paths_must_start_with_a_slash(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        with_section(minimal_toml, "environments.staging.health", 'path = "health"')
    )

    assert error_lines(path) == [
        "environments.staging.health.path: expected a path starting with '/', such as '/health', "
        "or \"\" to rely on the image's HEALTHCHECK alone (got 'health')"
    ]


def test_an_empty_liveness_path_relies_on_the_image(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(with_section(minimal_toml, "environments.staging.health", 'path = ""'))

    assert load_config(path, environ={}).environment("staging").health.path == ""


def test_max_error_rate_is_a_share(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        with_section(minimal_toml, "environments.staging.watch", "max_error_rate = 5")
    )

    assert error_lines(path) == [
        "environments.staging.watch.max_error_rate: Input should be less than or equal to 1 (got 5)"
    ]


def test_empty_migration_command_means_no_migrations(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(
        with_section(minimal_toml, "environments.staging.migrations", "command = []")
    )

    assert load_config(path, environ={}).environments.staging.migrations.command == []


def test_other_environment_names_are_unknown_keys(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(
        with_section(minimal_toml, "environments.dev", "port = 1\npreview_port = 2")
    )

    assert error_lines(path) == ["environments.dev: unknown key; allowed keys: staging, production"]


def test_scan_ignore_entries_need_a_reason_and_an_expiry(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[[scan.ignore]]\nid = "CVE-2024-1"\nreason = "  "\n')

    assert error_lines(path) == [
        "scan.ignore.0.reason: must not be empty (got '  ')",
        "scan.ignore.0.expires: required key is missing",
    ]


def test_scan_ignore_expiry_is_a_toml_date(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(
        minimal_toml
        + '\n[[scan.ignore]]\nid = "CVE-2024-1"\nreason = "not reachable"\nexpires = 2026-06-30\n'
    )

    (ignore,) = load_config(path, environ={}).scan.ignore
    assert ignore.expires == date(2026, 6, 30)


def test_severities_are_read_in_any_case(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(with_section(minimal_toml, "scan", 'fail_on = ["critical"]'))

    assert load_config(path, environ={}).scan.fail_on == ["CRITICAL"]


def test_unknown_severity_lists_the_known_ones(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(with_section(minimal_toml, "scan", 'fail_on = ["SEVERE"]'))

    assert error_lines(path) == [
        "scan.fail_on.0: Input should be 'UNKNOWN', 'LOW', 'MEDIUM', 'HIGH' or 'CRITICAL' "
        "(got 'SEVERE')"
    ]


def test_webhook_defaults_to_every_event_and_environment(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[[notifications.webhooks]]\nurl = "https://h.test/x"\n')

    (webhook,) = load_config(path, environ={}).notifications.webhooks
    assert webhook.format == "json"
    assert webhook.events == ["started", "succeeded", "failed", "rolled_back"]
    assert webhook.environments == ["staging", "production"]


def test_webhook_url_must_be_http_and_is_never_shown(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(minimal_toml + '\n[[notifications.webhooks]]\nurl = "ftp://tok3n@h"\n')

    assert error_lines(path) == [
        "notifications.webhooks.0.url: expected an http:// or https:// URL (got [REDACTED])"
    ]


def test_webhook_retries_are_bounded(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(with_section(minimal_toml, "notifications", "retries = 6"))

    assert error_lines(path) == [
        "notifications.retries: Input should be less than or equal to 5 (got 6)"
    ]


def test_a_section_given_as_a_value_expects_a_table(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config('proxy = "nginx"\n' + minimal_toml)

    assert error_lines(path) == ["proxy: expected a table with the keys image (got 'nginx')"]


def test_environment_lookup_by_name(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={})

    assert config.environment("staging") is config.environments.staging
    with pytest.raises(KeyError):
        config.environment("dev")


def test_a_config_built_in_code_has_no_origin() -> None:
    config = PipelineConfig.model_validate(
        {
            "app": {"name": "x"},
            "environments": {
                "staging": {"port": 1, "preview_port": 2},
                "production": {"port": 3, "preview_port": 4},
            },
        }
    )

    assert config.origin is None


def test_stage_commands_that_take_a_url_must_contain_the_placeholder(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    path = write_config(
        minimal_toml + '[stages]\nintegration_test = ["pytest", "tests/deployed"]\nsmoke = []\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "stages.integration_test: must contain {url}" in str(info.value)


def test_an_empty_smoke_command_turns_smoke_tests_off(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    config = load_config(write_config(minimal_toml + "[stages]\nsmoke = []\n"))
    assert config.stages.smoke == []
    assert "{url}" in config.stages.integration_test


PINNED_TRIVY = (
    "aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969"
)


def test_trivy_image_defaults_to_a_tag_and_digest_pin(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    scan = load_config(write_config(minimal_toml), environ={}).scan

    assert scan.trivy_image == PINNED_TRIVY
    assert (scan.offline, scan.cache_volume, scan.required, scan.audit_required) == (
        False,
        "gangway-trivy-cache",
        True,
        True,
    )


@pytest.mark.parametrize(
    "image",
    [
        "aquasec/trivy:0.74.0",
        "aquasec/trivy@sha256:" + "a" * 64,
        "aquasec/trivy:0.74.0@sha256:" + "a" * 63,
        "aquasec/trivy:0.74.0@sha256:" + "A" * 64,
    ],
)
def test_trivy_image_without_tag_and_digest_is_refused_showing_the_shape(
    write_config: WriteConfig, minimal_toml: str, image: str
) -> None:
    path = write_config(with_section(minimal_toml, "scan", f'trivy_image = "{image}"'))

    [line] = error_lines(path)
    assert line.startswith(
        "scan.trivy_image: expected an image pinned by tag and digest, "
        "'repository:tag@sha256:<64 hex digits>', e.g. '" + PINNED_TRIVY + "'"
    )
    assert "docker buildx imagetools inspect" in line


@pytest.mark.parametrize("tag", ["0.69.4", "0.69.5", "v0.69.6"])
def test_compromised_trivy_releases_are_refused(
    write_config: WriteConfig, minimal_toml: str, tag: str
) -> None:
    image = f"aquasec/trivy:{tag}@sha256:" + "b" * 64
    path = write_config(with_section(minimal_toml, "scan", f'trivy_image = "{image}"'))

    [line] = error_lines(path)
    assert line.startswith(
        "scan.trivy_image: Trivy 0.69.4, 0.69.5 and 0.69.6 were malicious releases (March 2026)"
    )


def test_trivy_image_from_a_registry_with_a_port_is_accepted(
    write_config: WriteConfig, minimal_toml: str
) -> None:
    image = "127.0.0.1:5000/mirror/trivy:0.69.3@sha256:" + "c" * 64
    path = write_config(with_section(minimal_toml, "scan", f'trivy_image = "{image}"'))

    assert load_config(path, environ={}).scan.trivy_image == image


def test_cache_volume_must_be_a_volume_name(write_config: WriteConfig, minimal_toml: str) -> None:
    path = write_config(with_section(minimal_toml, "scan", 'cache_volume = "/var/cache/trivy"'))

    [line] = error_lines(path)
    assert line.startswith("scan.cache_volume: expected a Docker volume name")
