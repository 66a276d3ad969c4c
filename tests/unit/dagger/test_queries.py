"""What each Dagger function would run, read from the queries it sends, with no engine.

The command lines must be the core's (gangway.stages.argv, gangway.scan.trivy): the
module only puts them into containers.
"""

from __future__ import annotations

from typing import Any

import pytest
from dagger.mod._exceptions import FunctionError

from gangway.config import PipelineConfig
from gangway.scan import trivy
from gangway.stages.argv import (
    build_args,
    deploy_argv,
    gangway_argv,
    image_ref,
    integration_test_argv,
    publish_tags,
    rollback_argv,
    run_tests_argv,
    smoke_argv,
    status_argv,
)
from gangway_pipeline.main import (
    IMAGE_TAR,
    KNOWN_HOSTS,
    RUN_ID_VARIABLE,
    SSH_KEY,
    TEST_DATABASE_VARIABLE,
    TEST_DB_URL,
    TRIVY_REPORT,
    parse_config,
)
from tests.unit.dagger.offline import (
    PIPELINE_TOML,
    SOURCE_ID,
    Query,
    call,
    env_vars,
    exec_error,
    last_exec,
    query_error,
)

SOCKET_ID = "arg:docker-socket"
KEY_ID = "arg:ssh-key"
KNOWN_HOSTS_ID = "arg:known-hosts"
DATABASE_URL_ID = "arg:database-url"
PASSWORD_ID = "arg:registry-password"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def cfg() -> PipelineConfig:
    return parse_config(PIPELINE_TOML, "pipeline.toml")


def only(queries: list[Query]) -> Query:
    assert len(queries) == 1, [q.text() for q in queries]
    return queries[0]


def runs(query: Query) -> list[list[str]]:
    return [a["args"] for a in query.calls("withExec")]


# -- deploys ---------------------------------------------------------------------------


def test_deploy_production_runs_the_core_deployer_against_the_socket(cfg: PipelineConfig) -> None:
    _, engine = call(
        "deploy_production",
        {"version": "abc123", "docker_socket": SOCKET_ID, "app_secrets": [DATABASE_URL_ID]},
    )
    query = only(engine.leaves("combinedOutput"))
    image = image_ref(cfg, "abc123")
    assert last_exec(query) == deploy_argv(
        "pipeline.toml", "production", image, version="abc123", smoke=cfg.stages.smoke
    )
    # the smoke tests run in the deployer's container, against the preview route
    assert ["pip", "install", "--quiet", "pytest>=9.0", "httpx>=0.28"] in runs(query)
    assert query.path[0] == "container"
    assert query.fields[1].args == {"address": "python:3.12-slim"}
    assert ["pip", "install", "--quiet", "."] in runs(query)
    (socket,) = query.calls("withUnixSocket")
    assert socket["path"] == "/var/run/docker.sock"
    assert engine.object(socket["source"]).fields[0].args == {"id": SOCKET_ID}
    env = env_vars(query)
    assert env["GANGWAY_ENVIRONMENTS__PRODUCTION__DOCKER_HOST"] == "unix:///var/run/docker.sock"
    assert env["GANGWAY_ACTOR"] == "dagger"
    # A new value per run: the engine must never replay a deploy from its layer cache.
    assert len(env[RUN_ID_VARIABLE]) == 32
    (secret,) = query.calls("withSecretVariable")
    assert secret["name"] == "DATABASE_URL"
    assert engine.object(secret["secret"]).fields[0].args == {"id": DATABASE_URL_ID}
    (docker,) = query.calls("withFile")
    assert docker["path"] == "/usr/local/bin/docker"
    assert engine.object(docker["source"]).text() == (
        "container.from({'address': 'docker:28.2-cli'}).file({'path': '/usr/local/bin/docker'})"
    )


def test_each_deploy_run_gets_a_new_run_id() -> None:
    inputs = {"version": "v1", "docker_socket": SOCKET_ID, "app_secrets": [DATABASE_URL_ID]}
    _, first = call("deploy_staging", inputs)
    _, second = call("deploy_staging", inputs)
    ids = [env_vars(only(e.leaves("combinedOutput")))[RUN_ID_VARIABLE] for e in (first, second)]
    assert ids[0] != ids[1]


def test_deploy_staging_takes_an_explicit_image(cfg: PipelineConfig) -> None:
    image = f"{image_ref(cfg, 'v2')}@{DIGEST}"
    _, engine = call(
        "deploy_staging",
        {"version": "v2", "image": image, "docker_socket": SOCKET_ID,
         "app_secrets": [DATABASE_URL_ID]},
    )  # fmt: skip
    query = only(engine.leaves("combinedOutput"))
    assert last_exec(query) == deploy_argv("pipeline.toml", "staging", image, version="v2")
    assert "GANGWAY_ENVIRONMENTS__STAGING__DOCKER_HOST" in env_vars(query)


def test_ssh_docker_host_mounts_the_key_and_checks_host_keys() -> None:
    _, engine = call(
        "deploy_production",
        {
            "version": "v3",
            "docker_host": "ssh://deploy@app1.example.com",
            "ssh_key": KEY_ID,
            "known_hosts": KNOWN_HOSTS_ID,
            "app_secrets": [DATABASE_URL_ID],
        },
    )
    query = only(engine.leaves("combinedOutput"))
    assert query.calls("withUnixSocket") == []
    env = env_vars(query)
    assert env["GANGWAY_ENVIRONMENTS__PRODUCTION__DOCKER_HOST"] == "ssh://deploy@app1.example.com"
    (key,) = query.calls("withMountedSecret")
    assert (key["path"], key["mode"]) == (SSH_KEY, 0o600)
    assert engine.object(key["source"]).fields[0].args == {"id": KEY_ID}
    (known,) = query.calls("withMountedFile")
    assert known["path"] == KNOWN_HOSTS
    (config,) = query.calls("withNewFile")
    assert "StrictHostKeyChecking yes" in config["contents"]
    assert any("openssh-client" in " ".join(argv) for argv in runs(query))


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"version": "v"}, "pass --docker-socket=/var/run/docker.sock"),
        (
            {"version": "v", "docker_host": "ssh://deploy@host", "app_secrets": [DATABASE_URL_ID]},
            "needs --ssh-key",
        ),
        ({"version": "v", "docker_socket": SOCKET_ID}, "secrets lists DATABASE_URL"),
        (
            {"version": "v", "docker_socket": SOCKET_ID, "app_secrets": ["a", "b"]},
            "(got 2)",
        ),
    ],
)
def test_missing_target_or_secrets_is_a_one_line_error(
    inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(FunctionError) as info:
        call("deploy_production", inputs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_rollback_and_status_run_the_core_argv() -> None:
    target = {"docker_socket": SOCKET_ID}
    _, engine = call(
        "rollback", {"environment": "staging", "to": "v1", **target, "app_secrets": ["s"]}
    )
    assert last_exec(only(engine.leaves("combinedOutput"))) == rollback_argv(
        "pipeline.toml", "staging", to="v1"
    )
    _, engine = call("status", {"json": True, **target})
    assert last_exec(only(engine.leaves("combinedOutput"))) == status_argv(
        "pipeline.toml", "production", json=True
    )


def test_unknown_environment_is_refused_before_anything_runs() -> None:
    with pytest.raises(FunctionError, match="expected one of staging, production"):
        call("status", {"environment": "prod", "docker_socket": SOCKET_ID})


def test_a_config_from_another_path_is_read_and_passed_on() -> None:
    _, engine = call(
        "status",
        {"docker_socket": SOCKET_ID},
        state={"config": "deploy/pipeline.toml"},
        files={"deploy/pipeline.toml": PIPELINE_TOML},
    )
    read = engine.queries[0]
    assert read.path == ["node", "file", "contents"]
    assert read.calls("file") == [{"path": "deploy/pipeline.toml"}]
    assert last_exec(only(engine.leaves("combinedOutput")))[:3] == [
        "gangway",
        "--config",
        "deploy/pipeline.toml",
    ]


def test_an_invalid_config_names_the_key() -> None:
    broken = PIPELINE_TOML.replace("port = 8081", 'port = "eighty"', 1)
    with pytest.raises(FunctionError, match=r"environments\.production\.port"):
        call("status", {"docker_socket": SOCKET_ID}, files={"pipeline.toml": broken})


# -- test, build, scan, publish --------------------------------------------------------


def test_test_stage_runs_against_postgres_as_a_service(cfg: PipelineConfig) -> None:
    _, engine = call("test")
    query = only(engine.leaves("combinedOutput"))
    assert last_exec(query) == run_tests_argv(cfg)
    assert env_vars(query)[TEST_DATABASE_VARIABLE] == TEST_DB_URL
    (binding,) = query.calls("withServiceBinding")
    assert binding["alias"] == "db"
    service = engine.object(binding["service"])
    assert service.calls("from") == [{"address": cfg.database.image}]
    assert service.calls("withExposedPort") == [{"port": 5432}]
    # Without the entrypoint the postgres image never initialises a cluster.
    assert service.calls("asService") == [{"useEntrypoint": True}]
    assert ["pip", "install", "--quiet", "-e", ".", "--group", "test"] in runs(query)


def test_a_failed_exec_reports_its_stderr() -> None:
    def fail(query: Query, _type: Any) -> Any:
        if query.path[-1] == "combinedOutput":
            raise exec_error(["pytest"], exit_code=1, stderr="FAILED tests/x.py::test_y")
        return None

    with pytest.raises(FunctionError) as info:
        call("test", respond=fail)
    assert "FAILED tests/x.py::test_y" in str(info.value)
    assert "pytest exited 1" in str(info.value)


def test_build_uses_the_dockerfile_and_build_args_of_the_config(cfg: PipelineConfig) -> None:
    result, engine = call("build", {"version": "v9", "revision": "f00"})
    image = engine.object(result)
    (build,) = image.calls("dockerBuild")
    assert build["dockerfile"] == cfg.image.dockerfile
    expected = build_args(cfg, version="v9", revision="f00")
    assert {a["name"]: a["value"] for a in build["buildArgs"]} == expected
    assert image.fields[0].args == {"id": SOURCE_ID}


def test_scan_runs_trivy_on_the_image_tarball_then_the_core_gate(cfg: PipelineConfig) -> None:
    _, engine = call("scan", {"version": "v4", "ignore_file": ".trivyignore.yaml"})
    gate = only(engine.leaves("combinedOutput"))
    assert last_exec(gate) == gangway_argv(
        "pipeline.toml", "scan", "--report", TRIVY_REPORT, "--ignore-file", ".trivyignore.yaml"
    )
    (mounted,) = gate.calls("withMountedFile")
    report = engine.object(mounted["source"])
    assert report.calls("from") == [{"address": cfg.scan.trivy_image}]
    assert last_exec(report) == [
        "trivy",
        *trivy.vuln_scan_args(
            cfg.scan, input_tar=IMAGE_TAR, report=TRIVY_REPORT, cache_dir=trivy.CONTAINER_CACHE_DIR
        ),
    ]
    assert len(env_vars(report)[RUN_ID_VARIABLE]) == 32  # a fresh scan, never a cached one
    (cache,) = report.calls("withMountedCache")
    assert cache["path"] == trivy.CONTAINER_CACHE_DIR
    assert engine.object(cache["cache"]).path == ["cacheVolume"]
    (tarball,) = report.calls("withMountedFile")
    assert tarball["path"] == IMAGE_TAR
    assert engine.object(tarball["source"]).path[-2:] == ["dockerBuild", "asTarball"]


def test_publish_pushes_version_and_latest_with_credentials(cfg: PipelineConfig) -> None:
    _, engine = call(
        "publish",
        {"version": "v5", "registry_username": "ci", "registry_password": PASSWORD_ID},
    )
    pushes = engine.leaves("publish")
    assert [q.calls("publish")[-1]["address"] for q in pushes] == [
        image_ref(cfg, tag) for tag in publish_tags("v5")
    ]
    for push in pushes:
        (auth,) = push.calls("withRegistryAuth")
        assert auth["username"] == "ci"
        assert engine.object(auth["secret"]).fields[0].args == {"id": PASSWORD_ID}


def test_publish_password_without_user_is_refused() -> None:
    with pytest.raises(FunctionError, match="needs --registry-username"):
        call("publish", {"version": "v5", "registry_password": PASSWORD_ID})


def test_lint_runs_ruff_and_mypy_with_the_pinned_groups() -> None:
    _, engine = call("lint")
    query = only(engine.leaves("combinedOutput"))
    assert runs(query)[-3:] == [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ]
    assert [
        "pip", "install", "--quiet", "-e", ".", "--group", "lint", "--group", "typecheck"
    ] in runs(query)  # fmt: skip


def test_serve_is_the_built_app_migrated_on_a_database(cfg: PipelineConfig) -> None:
    result, engine = call("serve")
    service = engine.object(result)
    assert "dockerBuild" in service.path
    assert service.calls("withExposedPort") == [{"port": cfg.app.port}]
    assert env_vars(service)["DATABASE_URL"] == TEST_DB_URL
    (as_service,) = service.calls("asService")
    assert as_service["args"] == ["sh", "-c", "app migrate && exec app serve"]


def test_integration_test_targets_staging_by_default(cfg: PipelineConfig) -> None:
    _, engine = call("integration_test")
    url = cfg.environments.staging.effective_url
    assert last_exec(only(engine.leaves("combinedOutput"))) == integration_test_argv(cfg, url)
    _, engine = call("integration_test", {"base_url": "http://10.0.0.5:8080", "smoke": True})
    assert last_exec(only(engine.leaves("combinedOutput"))) == smoke_argv(
        cfg, "http://10.0.0.5:8080"
    )


# -- deploy: the whole road through the core's gates -----------------------------------

DEPLOY_INPUTS = {
    "version": "v7",
    "registry_username": "ci",
    "registry_password": PASSWORD_ID,
    "docker_socket": SOCKET_ID,
    "app_secrets": [DATABASE_URL_ID],
}


def stage_of(query: Query) -> str:
    """Which stage a captured leaf belongs to, from what it runs."""
    if query.path[-1] == "publish":
        return "publish"
    if query.path[-1] == "sync":
        return "build"
    argv = last_exec(query)
    if argv == run_tests_argv(parse_config(PIPELINE_TOML, "pipeline.toml")):
        return "test"
    if argv[3:4] == ["scan"]:
        return "scan"
    if argv[3:4] == ["deploy"]:
        return f"deploy-{argv[5]}"
    if "tests/deployed" in argv:
        return "integration-test"
    return "?"


def published(query: Query, _type: Any) -> Any:
    if query.path[-1] == "publish":
        return f"{query.calls('publish')[-1]['address']}@{DIGEST}"
    return None


def test_deploy_runs_every_stage_in_the_core_order(
    cfg: PipelineConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    table, engine = call("deploy", DEPLOY_INPUTS, respond=published)
    leaves = [q for q in engine.queries if q.path[-1] in ("combinedOutput", "sync", "publish")]
    order = [stage_of(q) for q in leaves]
    assert order == [
        "test",
        "build",
        "scan",
        "publish",
        "publish",
        "deploy-staging",
        "integration-test",
        "deploy-production",
    ]
    pinned = f"{image_ref(cfg, 'v7')}@{DIGEST}"
    production = leaves[-1]
    assert last_exec(production) == deploy_argv(
        "pipeline.toml", "production", pinned, version="v7", smoke=cfg.stages.smoke
    )
    assert last_exec(leaves[5]) == deploy_argv("pipeline.toml", "staging", pinned, version="v7")
    assert last_exec(leaves[6]) == integration_test_argv(
        cfg, cfg.environments.staging.effective_url
    )
    assert "pipeline passed" in table
    progress = capsys.readouterr().err
    assert "==> [1/7] test" in progress
    assert "<== deploy-production: ok" in progress


def test_deploy_stops_at_a_blocked_scan_and_deploys_nothing() -> None:
    awaited: list[str] = []

    def blocked(query: Query, return_type: Any) -> Any:
        if query.path[-1] in ("combinedOutput", "sync", "publish"):
            awaited.append(stage_of(query))
        if query.path[-1] == "combinedOutput" and stage_of(query) == "scan":
            raise exec_error(
                ["gangway", "scan"], exit_code=1, stdout="BLOCKED: 1 CRITICAL (CVE-2026-0001)"
            )
        return published(query, return_type)

    with pytest.raises(FunctionError) as info:
        call("deploy", DEPLOY_INPUTS, respond=blocked)
    message = str(info.value)
    assert "pipeline stopped at scan" in message
    assert "CVE-2026-0001" in message
    assert awaited == ["test", "build", "scan"]


def test_an_engine_error_is_one_line_naming_what_was_refused() -> None:
    def refused(query: Query, _type: Any) -> Any:
        if query.path[-1] == "publish":
            raise query_error("failed to push: unauthorized: authentication required")
        return None

    with pytest.raises(FunctionError) as info:
        call("publish", {"version": "v1"}, respond=refused)
    assert str(info.value) == "failed to push: unauthorized: authentication required"
