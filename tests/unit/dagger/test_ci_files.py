"""The CI files call only what the module registers, with its argument names.

Every `dagger` command in .github/workflows/*.yml and .gitlab-ci.yml (run lines, script
lines and the dagger-for-github action's inputs), and every one in a command block of
the README or a docs/ page, is parsed like the CLI would: a
constructor flag must be a constructor argument, the function must exist, each
`--flag` must be one of its arguments and each required argument must be given.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.docs import COMMAND_LANGUAGES, Block, all_blocks
from tests.unit.dagger.offline import Function, register, walk_registration

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB = ROOT / ".gitlab-ci.yml"
ACTION = "dagger/dagger-for-github@"
# `${{ github.sha }}` holds spaces: one token for shlex.
_EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")


@dataclass
class DaggerCommand:
    """One `dagger` command line found in a CI file."""

    where: str
    argv: list[str]
    module: str = ""
    verb: str = ""
    constructor_flags: dict[str, str] = field(default_factory=dict)
    function: str = ""
    flags: dict[str, str] = field(default_factory=dict)
    chain: list[str] = field(default_factory=list)


def parse(where: str, line: str) -> DaggerCommand:
    """Split a `dagger [-m M] call [ctor flags] fn [flags]` or `dagger -m M check` line."""
    argv = shlex.split(_EXPRESSION.sub("EXPR", line))
    assert argv[0] == "dagger", line
    command = DaggerCommand(where, argv)
    rest = argv[1:]
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in ("-m", "--mod"):
            command.module = rest.pop(0)
        elif flag.startswith(("-m=", "--mod=")):
            command.module = flag.split("=", 1)[1]
    command.verb = rest.pop(0) if rest else ""
    target = command.constructor_flags
    for token in rest:
        if command.chain:
            command.chain.append(token)
        elif token.startswith("--"):
            name, _, value = token[2:].partition("=")
            target[name] = value
        elif command.verb == "call" and not command.function:
            command.function = token
            target = command.flags
        else:
            # `dagger call build export --path=x`: the core API chained on the result.
            command.chain.append(token)
    return command


def workflow_commands(path: Path) -> list[DaggerCommand]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    found = []
    for job_name, job in document["jobs"].items():
        for step in job.get("steps", []):
            where = f"{path.name}: {job_name}: {step.get('name', step.get('uses', 'step'))}"
            if str(step.get("uses", "")).startswith(ACTION):
                inputs = step.get("with", {})
                module = inputs.get("module", "")
                flags = f"-m {module} " if module else ""
                if "call" in inputs:
                    found.append(parse(where, f"dagger {flags}call {inputs['call']}"))
                else:
                    found.append(parse(where, f"dagger {flags}{inputs['verb']}"))
            for line in str(step.get("run", "")).splitlines():
                if line.strip().startswith("dagger "):
                    found.append(parse(where, line.strip()))
    return found


def gitlab_commands(path: Path) -> list[DaggerCommand]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    found = []
    for job_name, job in document.items():
        if not isinstance(job, dict):
            continue
        for line in job.get("script", []):
            if line.strip().startswith("dagger "):
                found.append(parse(f"{path.name}: {job_name}", " ".join(line.split())))
    return found


def block_commands(block: Block) -> list[DaggerCommand]:
    """`dagger` lines of one command block (continuations joined, comments cut)."""
    return [
        parse(f"{block.where}: {line[:40]}", line)
        for line in block.commands()
        if line.startswith("dagger ")
    ]


def doc_commands() -> list[DaggerCommand]:
    """`dagger` lines of every command block of the README and the docs/ pages."""
    return [c for block in all_blocks(*COMMAND_LANGUAGES) for c in block_commands(block)]


def all_commands() -> list[DaggerCommand]:
    return [c for path in WORKFLOWS for c in workflow_commands(path)] + gitlab_commands(GITLAB)


@pytest.fixture(scope="module")
def functions() -> dict[str, Function]:
    return walk_registration(register())[1]


def snake(name: str) -> str:
    return name.replace("-", "_")


def test_both_providers_have_ci_files() -> None:
    assert WORKFLOWS
    assert GITLAB.exists()


def test_each_provider_checks_pull_requests_and_deploys_main() -> None:
    for files in (WORKFLOWS, [GITLAB]):
        commands = [c for c in all_commands() if any(c.where.startswith(f.name) for f in files)]
        assert {c.verb for c in commands} == {"check", "call"}
        assert [c.function for c in commands if c.verb == "call"] == ["deploy"]


@pytest.mark.parametrize("command", all_commands() + doc_commands(), ids=lambda c: c.where)
def test_command_matches_the_module(command: DaggerCommand, functions: dict[str, Function]) -> None:
    assert command.module == ".", f"{command.where}: write `dagger -m . ...`"
    if command.verb in ("functions", "up"):
        assert command.flags == command.constructor_flags == {}
        return
    if command.verb == "check":
        checks = {name for name, f in functions.items() if f.check}
        assert all(snake(pattern) in checks for pattern in command.flags), command.argv
        return
    assert command.verb == "call", command.argv
    constructor = functions[""]
    unknown = [f for f in command.constructor_flags if snake(f) not in constructor.args]
    assert unknown == [], f"{command.where}: not constructor arguments"
    assert snake(command.function) in functions, f"{command.where}: no function {command.function}"
    function = functions[snake(command.function)]
    unknown = [f for f in command.flags if snake(f) not in function.args]
    assert unknown == [], f"{command.where}: not arguments of {command.function}"
    required = {name for name, arg in function.args.items() if arg.default is None}
    assert required <= {snake(f) for f in command.flags}, f"{command.where}: missing"


def test_the_docs_show_deploy_check_and_up() -> None:
    commands = doc_commands()
    assert {"functions", "check", "up", "call"} <= {c.verb for c in commands}
    assert "deploy" in {c.function for c in commands}


def test_secrets_are_passed_through_providers_never_inline() -> None:
    for command in all_commands() + doc_commands():
        for flag in ("registry-password", "ssh-key", "app-secrets"):
            value = command.flags.get(flag)
            if value is not None:
                assert value.startswith(("env://", "file://")), (command.where, flag)


def test_the_dagger_version_is_the_engine_version() -> None:
    manifest = (ROOT / "dagger.json").read_text()
    version = re.search(r'"engineVersion": "v([0-9.]+)"', manifest)
    assert version is not None
    for path in WORKFLOWS:
        document: dict[Any, Any] = yaml.safe_load(path.read_text())
        steps = [s for job in document["jobs"].values() for s in job.get("steps", [])]
        pinned = [s["with"]["version"] for s in steps if str(s.get("uses", "")).startswith(ACTION)]
        assert pinned
        assert set(pinned) == {version.group(1)}
    gitlab: dict[str, Any] = yaml.safe_load(GITLAB.read_text())
    assert gitlab[".dagger"]["variables"]["DAGGER_VERSION"] == version.group(1)


def test_the_parser_reads_constructor_flags_function_and_flags() -> None:
    command = parse(
        "x", 'dagger -m . call --actor="$USER" deploy --version=${{ github.sha }} --ssh-key=k'
    )
    assert (command.module, command.verb, command.function) == (".", "call", "deploy")
    assert command.constructor_flags == {"actor": "$USER"}
    assert command.flags == {"version": "EXPR", "ssh-key": "k"}
