"""The stage command lines both runners share."""

from __future__ import annotations

from pathlib import Path

from gangway.config import load_config
from gangway.stages import argv


def test_deploy_argv_names_config_env_image_and_version() -> None:
    assert argv.deploy_argv("/src/pipeline.toml", "production", "r/notes:abc", version="abc") == [
        "gangway", "--config", "/src/pipeline.toml", "deploy", "--env", "production",
        "--image", "r/notes:abc", "--version", "abc",
    ]  # fmt: skip


def test_deploy_argv_optional_flags() -> None:
    got = argv.deploy_argv("p.toml", "staging", "i:1", lock_wait="5m", allow_destructive=True)
    assert got[-3:] == ["--lock-wait", "5m", "--allow-destructive"]
    assert "--version" not in got


def test_rollback_and_status() -> None:
    assert argv.rollback_argv("p.toml", "production", to="v1")[3:] == [
        "rollback", "--env", "production", "--to", "v1"
    ]  # fmt: skip
    assert argv.rollback_argv("p.toml", "staging")[-1] == "staging"
    assert argv.status_argv("p.toml", "staging", json=True)[-1] == "--json"


def test_integration_test_argv_puts_the_url_in(minimal_config: Path) -> None:
    pipeline = load_config(minimal_config)
    got = argv.integration_test_argv(pipeline, "http://127.0.0.1:8080")
    assert got == [
        "python", "-m", "pytest", "tests/deployed", "-q", "--base-url", "http://127.0.0.1:8080"
    ]  # fmt: skip
    assert argv.run_tests_argv(pipeline) == [
        "python",
        "-m",
        "pytest",
        "-m",
        "not integration",
        "-q",
    ]


def test_deploy_argv_passes_the_smoke_command_with_its_placeholder() -> None:
    got = argv.deploy_argv("p.toml", "production", "i:1", smoke=["pytest", "--base-url", "{url}"])
    assert got[got.index("--smoke") + 1] == "pytest --base-url '{url}'"


def test_image_ref_and_build_args(minimal_config: Path) -> None:
    pipeline = load_config(minimal_config)
    ref = argv.image_ref(pipeline, "abc123")
    repository = pipeline.image.repository or pipeline.app.name
    assert ref == f"{pipeline.registry.address}/{repository}:abc123"
    assert argv.publish_tags("abc123") == ("abc123", "latest")
    args = argv.build_args(pipeline, version="abc123", revision="deadbeef")
    assert args["VERSION"] == "abc123"
    assert args["REVISION"] == "deadbeef"
    assert args["BASE_IMAGE"] == pipeline.image.base_image
