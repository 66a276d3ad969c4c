"""Every query the module would send is valid against the engine's real API schema.

The queries are captured offline (registration and each function), built into GraphQL
documents by the SDK's own DSL builder, and validated with graphql-core against the
schema of the engine (dagger v0.21.8, the newest 0.21 tag with a published schema;
0.21.11 changed only volume/sshfs fields). A misspelt field, an argument the engine does
not take, or a value of the wrong type fails here instead of on a user's machine.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import graphql
import pytest

from tests.unit.dagger.offline import (
    SCHEMA_FILE,
    Query,
    call,
    document,
    problems,
    register,
)
from tests.unit.dagger.test_queries import DEPLOY_INPUTS, published

pytestmark = pytest.mark.skipif(
    not SCHEMA_FILE.exists(),
    reason=f"the engine's API schema is not here ({SCHEMA_FILE}): it lives in ../shared",
)

SOCKET = {"docker_socket": "arg:docker-socket"}
SECRETS = {"app_secrets": ["arg:database-url"]}
SSH = {
    "docker_host": "ssh://deploy@app1.example.com",
    "ssh_key": "arg:ssh-key",
    "known_hosts": "arg:known-hosts",
}
#: One call of every function, with the arguments that reach every branch that builds
#: a different query.
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("lint", {}),
    ("test", {}),
    ("scan", {"ignore_file": ".trivyignore.yaml"}),
    ("build", {"version": "v1", "revision": "abc"}),
    ("publish", {"version": "v1"}),
    ("publish", {"version": "v1", "registry_username": "ci", "registry_password": "arg:pw"}),
    ("deploy_staging", {"version": "v1", **SOCKET, **SECRETS}),
    ("deploy_production", {"version": "v1", **SSH, **SECRETS}),
    ("integration_test", {"smoke": True}),
    ("rollback", {"to": "v0", **SOCKET, **SECRETS}),
    ("status", {"json": True, **SSH}),
    ("deploy", DEPLOY_INPUTS),
    ("serve", {}),
]


@pytest.fixture(scope="module")
def schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def assert_valid(queries: list[Query], schema: graphql.GraphQLSchema) -> None:
    found = {query.text(): problems(query, schema) for query in queries}
    assert {text: errors for text, errors in found.items() if errors} == {}


def test_registration_queries_are_valid(schema: graphql.GraphQLSchema) -> None:
    engine = register()
    assert len(engine.queries) > 30
    assert_valid(engine.queries, schema)


@pytest.mark.parametrize(
    ("name", "inputs"), CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CALLS)]
)
def test_function_queries_are_valid(
    schema: graphql.GraphQLSchema, name: str, inputs: dict[str, Any]
) -> None:
    _, engine = call(name, inputs, respond=published)
    assert engine.queries
    assert_valid(engine.queries, schema)


def test_every_object_a_query_refers_to_is_valid_too(schema: graphql.GraphQLSchema) -> None:
    # Objects passed as arguments (the docker CLI file, the service, the tarball) were
    # captured as their own `id` queries; they are validated as such above. Here: the
    # exact text of one, as the engine would receive it.
    _, engine = call("deploy_production", {"version": "v1", **SOCKET, **SECRETS})
    (query,) = engine.leaves("combinedOutput")
    text = graphql.print_ast(document(query, schema))
    assert "withUnixSocket(" in text
    assert 'path: "/var/run/docker.sock"' in text
    assert "combinedOutput" in text


# -- the check itself can fail -----------------------------------------------------------


def mutated(query: Query, change: Callable[[list[Any]], None]) -> Query:
    fields = copy.deepcopy(query.fields)
    change(fields)
    return Query(fields)


@pytest.fixture(scope="module")
def a_deploy_query() -> Query:
    _, engine = call("deploy_production", {"version": "v1", **SOCKET, **SECRETS})
    (query,) = engine.leaves("combinedOutput")
    return query


def test_a_misspelt_field_is_caught(schema: graphql.GraphQLSchema, a_deploy_query: Query) -> None:
    def misspell(fields: list[Any]) -> None:
        next(f for f in fields if f.name == "withExec").name = "withExecute"

    (problem,) = problems(mutated(a_deploy_query, misspell), schema)
    assert "Field withExecute does not exist in type Container" in problem


def test_an_unknown_argument_is_caught(
    schema: graphql.GraphQLSchema, a_deploy_query: Query
) -> None:
    def extra(fields: list[Any]) -> None:
        next(f for f in fields if f.name == "withExec").args["privileged"] = True

    (problem,) = problems(mutated(a_deploy_query, extra), schema)
    assert "Argument privileged does not exist" in problem


def test_a_wrong_argument_type_is_caught(
    schema: graphql.GraphQLSchema, a_deploy_query: Query
) -> None:
    def path_as_list(fields: list[Any]) -> None:
        next(f for f in fields if f.name == "withUnixSocket").args["path"] = ["/a", "/b"]

    (problem,) = problems(mutated(a_deploy_query, path_as_list), schema)
    assert "String cannot represent value: ['/a', '/b']" in problem


def test_a_missing_required_argument_is_caught(
    schema: graphql.GraphQLSchema, a_deploy_query: Query
) -> None:
    def no_address(fields: list[Any]) -> None:
        next(f for f in fields if f.name == "from").args.clear()

    (problem,) = problems(mutated(a_deploy_query, no_address), schema)
    assert "Argument 'Container.from(address:)' of type 'String!' is required" in problem


def test_the_unchanged_query_passes(schema: graphql.GraphQLSchema, a_deploy_query: Query) -> None:
    # The mutations above fail for what they change, not for something else.
    assert problems(mutated(a_deploy_query, lambda fields: None), schema) == []
