"""The error types: how a config problem renders, and the exit code each error carries."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import gangway
from gangway import errors
from gangway.errors import ConfigError, ConfigProblem, GangwayError, ValueSource

PACKAGE = Path(gangway.__file__).resolve().parent


def test_problem_from_the_file_shows_file_key_message_and_value() -> None:
    problem = ConfigProblem(
        "Input should be a valid integer",
        file="pipeline.toml",
        key="environments.production.port",
        value="abc",
    )

    assert problem.render() == (
        "pipeline.toml: environments.production.port: Input should be a valid integer (got 'abc')"
    )


def test_problem_from_an_env_var_names_the_variable() -> None:
    problem = ConfigProblem(
        "Input should be a valid integer",
        file="pipeline.toml",
        key="environments.production.port",
        value="abc",
        source=ValueSource("env", "GANGWAY_ENVIRONMENTS__PRODUCTION__PORT"),
    )

    assert problem.render() == (
        "pipeline.toml: environments.production.port: Input should be a valid integer "
        "(got 'abc', from GANGWAY_ENVIRONMENTS__PRODUCTION__PORT)"
    )


def test_secret_values_are_redacted() -> None:
    problem = ConfigProblem(
        "expected an http:// or https:// URL",
        file="pipeline.toml",
        key="notifications.webhooks.0.url",
        value="ftp://token@h",
        secret=True,
        source=ValueSource("secret", "/run/secrets/notifications.webhooks.0.url"),
    )

    assert problem.render() == (
        "pipeline.toml: notifications.webhooks.0.url: expected an http:// or https:// URL "
        "(got [REDACTED], from secret file /run/secrets/notifications.webhooks.0.url)"
    )


def test_problem_without_a_value_has_no_parentheses() -> None:
    problem = ConfigProblem("required key is missing", file="p.toml", key="app.name")

    assert problem.render() == "p.toml: app.name: required key is missing"


def test_booleans_render_as_toml_and_long_values_are_cut() -> None:
    assert ConfigProblem("m", key="k", value=True).render() == "k: m (got true)"
    assert ConfigProblem("m", key="k", value="x" * 200).render().endswith("...)")


def test_syntax_problem_renders_line_and_column() -> None:
    problem = ConfigProblem("invalid TOML: Expected '='", file="p.toml", line=3, column=6)

    assert problem.render() == "p.toml:3:6: invalid TOML: Expected '='"


def test_config_error_renders_one_line_per_problem_and_exits_2() -> None:
    error = ConfigError([ConfigProblem("a", key="x"), ConfigProblem("b", key="y")])

    assert str(error) == "x: a\ny: b"
    assert error.lines() == ["x: a", "y: b"]
    assert error.exit_code == 2
    assert isinstance(error, GangwayError)
    assert GangwayError.exit_code == 1


def test_command_failed_names_the_command_and_the_line_that_says_what_went_wrong() -> None:
    from gangway.errors import CommandFailed

    stderr = (
        "Unable to find image 'notes:9' locally\n"
        "docker: Error response from daemon: No such image: notes:9.\n"
        "See 'docker run --help'.\n"
    )
    error = CommandFailed(["docker", "run", "notes:9"], 125, "", stderr)

    assert str(error) == (
        "`docker run notes:9` exited 125: docker: Error response from daemon: No such image: "
        "notes:9."
    )
    assert error.exit_code == 1
    assert error.stderr == stderr


def test_every_exception_class_of_the_core_is_defined_in_errors_py() -> None:
    # By name, not by import: a class deriving from a builtin error elsewhere (as
    # `PendingUnreadable(ValueError)` once did) is caught without running the module.
    exception_names = {
        name
        for namespace in (vars(builtins), vars(errors))
        for name, value in namespace.items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(base).rpartition(".")[2] for base in node.bases}
            if bases & exception_names:
                offenders.append(f"{path.relative_to(PACKAGE)}: {node.name}")
    assert offenders == []


def test_the_docstring_draws_every_error_class() -> None:
    classes = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, GangwayError)
    ]
    tree = errors.__doc__ or ""
    assert [name for name in classes if f"── {name}" not in tree] == []
