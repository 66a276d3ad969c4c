"""What `dagger functions` will show: the module registers, offline, exactly these functions.

The SDK's own registration (`Module._typedefs`) runs up to its final `Module.id()`;
the offline engine captures every TypeDef and Function it built, and the test walks
them from the module down, as the engine would read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gangway_pipeline.main import SOURCE_IGNORE
from tests.unit.dagger.offline import Arg, Function, register, walk_registration

ROOT = Path(__file__).resolve().parents[3]

STR, BOOL = "String!", "Boolean!"
DEFAULT_VERSION = Arg(STR, '"dev"')
REVISION = Arg(STR, '"unknown"')
REQUIRED_VERSION = Arg(STR)
TARGET = {
    "docker_socket": Arg("Socket", "null"),
    "docker_host": Arg(STR, '""'),
    "ssh_key": Arg("Secret", "null"),
    "known_hosts": Arg("File", "null"),
}
APP_SECRETS = {"app_secrets": Arg("[Secret!]", "null")}
REGISTRY = {"registry_username": Arg(STR, '""'), "registry_password": Arg("Secret", "null")}
IMAGE = {"image": Arg(STR, '""')}

EXPECTED: dict[str, Function] = {
    "": Function(
        returns="GangwayPipeline!",
        args={
            "source": Arg("Directory!", None, ".", tuple(SOURCE_IGNORE)),
            "config": Arg(STR, '"pipeline.toml"'),
            "python_image": Arg(STR, '"python:3.12-slim"'),
            "docker_cli_image": Arg(STR, '"docker:28.2-cli"'),
            "actor": Arg(STR, '"dagger"'),
        },
    ),
    "lint": Function(returns=STR, args={}, check=True),
    "test": Function(returns=STR, args={}, check=True),
    "scan": Function(
        returns=STR,
        args={"version": DEFAULT_VERSION, "revision": REVISION, "ignore_file": Arg(STR, '""')},
        check=True,
        cache="Never",
    ),
    "build": Function(
        returns="Container!", args={"version": DEFAULT_VERSION, "revision": REVISION}
    ),
    "publish": Function(
        returns=STR,
        args={"version": REQUIRED_VERSION, "revision": REVISION, **REGISTRY},
        cache="Never",
    ),
    "deploy_staging": Function(
        returns=STR,
        args={"version": REQUIRED_VERSION, **IMAGE, **TARGET, **APP_SECRETS},
        cache="Never",
    ),
    "integration_test": Function(
        returns=STR,
        args={"base_url": Arg(STR, '""'), "smoke": Arg(BOOL, "false")},
        cache="Never",
    ),
    "deploy_production": Function(
        returns=STR,
        args={"version": REQUIRED_VERSION, **IMAGE, **TARGET, **APP_SECRETS},
        cache="Never",
    ),
    "rollback": Function(
        returns=STR,
        args={
            "environment": Arg(STR, '"production"'),
            "to": Arg(STR, '""'),
            **TARGET,
            **APP_SECRETS,
        },
        cache="Never",
    ),
    "status": Function(
        returns=STR,
        args={"environment": Arg(STR, '"production"'), "json": Arg(BOOL, "false"), **TARGET},
        cache="Never",
    ),
    "deploy": Function(
        returns=STR,
        args={
            "version": REQUIRED_VERSION,
            "revision": REVISION,
            **REGISTRY,
            "docker_socket": Arg("Socket", "null"),
            "ssh_key": Arg("Secret", "null"),
            "known_hosts": Arg("File", "null"),
            **APP_SECRETS,
            "staging_url": Arg(STR, '""'),
        },
        cache="Never",
    ),
    "serve": Function(returns="Service!", args={"version": DEFAULT_VERSION}, up=True),
}
#: Functions that change something or read the live world (the hosts, today's
#: vulnerability database): never served from the cache.
SIDE_EFFECTS = {
    "scan",
    "publish",
    "deploy_staging",
    "integration_test",
    "deploy_production",
    "rollback",
    "status",
    "deploy",
}


@pytest.fixture(scope="module")
def registered() -> tuple[str, dict[str, Function]]:
    return walk_registration(register())


def shape(function: Function) -> Function:
    """`function` without its prose, to compare with EXPECTED."""
    args = {
        name: Arg(a.type, a.default, a.default_path, a.ignore) for name, a in function.args.items()
    }
    return Function(
        returns=function.returns,
        args=args,
        check=function.check,
        up=function.up,
        cache=function.cache,
    )


def test_main_object_is_named_after_the_module() -> None:
    name, _ = walk_registration(register())
    manifest = json.loads((ROOT / "dagger.json").read_text())
    # `gangway-pipeline` -> GangwayPipeline: the engine looks the main object up by this.
    expected = "".join(part.capitalize() for part in manifest["name"].split("-"))
    assert name == expected == "GangwayPipeline"


def test_exactly_the_expected_functions_are_registered(
    registered: tuple[str, dict[str, Function]],
) -> None:
    _, functions = registered
    assert sorted(functions) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_function_signature(registered: tuple[str, dict[str, Function]], name: str) -> None:
    _, functions = registered
    got = shape(functions[name])
    want = EXPECTED[name]
    assert list(got.args) == list(want.args), "argument names or order"
    for arg in want.args:
        assert got.args[arg] == want.args[arg], f"{name or 'constructor'}: --{arg}"
    assert got == want


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_function_and_argument_is_documented(
    registered: tuple[str, dict[str, Function]], name: str
) -> None:
    _, functions = registered
    function = functions[name]
    assert function.doc.strip(), f"{name or 'constructor'} has no docstring"
    undocumented = [arg for arg, spec in function.args.items() if not spec.doc.strip()]
    assert undocumented == []


def test_side_effects_are_never_cached(registered: tuple[str, dict[str, Function]]) -> None:
    _, functions = registered
    never = {name for name, function in functions.items() if function.cache == "Never"}
    assert never == SIDE_EFFECTS
    # The rest keep the engine's default policy (no explicit TTL anywhere).
    assert {f.cache for name, f in functions.items() if name not in SIDE_EFFECTS} == {None}


def test_dagger_check_is_lint_test_and_scan(registered: tuple[str, dict[str, Function]]) -> None:
    _, functions = registered
    checks = {name for name, function in functions.items() if function.check}
    assert checks == {"lint", "test", "scan"}
    # `dagger check` passes no arguments: a check with a required one could never run.
    for name in checks:
        required = [a for a, spec in functions[name].args.items() if spec.default is None]
        assert required == [], name


def test_dagger_up_serves_the_app(registered: tuple[str, dict[str, Function]]) -> None:
    _, functions = registered
    assert {name for name, f in functions.items() if f.up} == {"serve"}


def test_default_paths_carry_no_python_default(
    registered: tuple[str, dict[str, Function]],
) -> None:
    _, functions = registered
    with_path = [
        (name, arg, spec)
        for name, function in functions.items()
        for arg, spec in function.args.items()
        if spec.default_path is not None
    ]
    assert [(name, arg) for name, arg, _ in with_path] == [("", "source")]
    assert all(spec.default is None for _, _, spec in with_path)


def test_source_ignores_what_never_belongs_in_a_build() -> None:
    assert {".git", "**/.venv", "**/__pycache__", "dagger/sdk", ".nox"} <= set(SOURCE_IGNORE)
    # The Dockerfile copies docker/wheels, app/ and the core is installed from src/gangway.
    assert not any(p.startswith(("docker", "app", "src")) for p in SOURCE_IGNORE)


def test_secrets_are_only_ever_dagger_secrets(
    registered: tuple[str, dict[str, Function]],
) -> None:
    _, functions = registered
    for name, function in functions.items():
        for arg, spec in function.args.items():
            if any(word in arg for word in ("password", "key", "secret", "token")):
                assert spec.type.strip("[]!") in {"Secret", "Secret!"}, f"{name}: --{arg}"


def test_engine_version_and_sdk_pin_agree() -> None:
    manifest = json.loads((ROOT / "dagger.json").read_text())
    assert manifest["engineVersion"] == "v0.21.11"
    assert manifest["source"] == "dagger"
    assert manifest["sdk"] == {"source": "python"}
    module_project = (ROOT / "dagger" / "pyproject.toml").read_text()
    assert '"dagger-io==0.21.11"' in module_project
    tooling = (ROOT / "pyproject.toml").read_text()
    assert tooling.count('"dagger-io==0.21.11"') == 2  # the test and typecheck groups


def test_the_module_ships_the_core_from_the_root_project() -> None:
    # dagger/ holds only the module; its `gangway` dependency is the root project, and
    # dagger.json includes the core's files so the engine uploads them with the module.
    manifest = json.loads((ROOT / "dagger.json").read_text())
    assert {"src/gangway/**", "pyproject.toml"} <= set(manifest["include"])
    module_project = (ROOT / "dagger" / "pyproject.toml").read_text()
    assert 'gangway = { path = "..", editable = true }' in module_project
    assert (ROOT / "src" / "gangway" / "__init__.py").is_file()
    assert not (ROOT / "dagger" / "core").exists()
