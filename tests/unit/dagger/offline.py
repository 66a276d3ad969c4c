"""Run the Dagger module with no engine: every query it would send is captured, none is sent.

The SDK builds queries lazily and sends one only when a leaf is awaited
(`Context.execute`). `OfflineEngine` replaces that method: it records the chain of
selections, answers `id`/`sync` with an id that points back at the recorded chain
(so a query that takes an object as an argument can be followed into it), and
answers other leaves with a stand-in value or one the test gives (`respond`).

With the engine's schema, each captured query is also built into a GraphQL document
exactly as the SDK would send it and validated: a misspelt field or a wrong argument
type fails here.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import anyio
import dagger
import dagger.mod
import gql
import graphql
from dagger._exceptions import QueryErrorValue
from dagger.client import _core
from dagger.mod._module import Module
from gql.dsl import DSLQuery, DSLSchema, dsl_gql

import gangway_pipeline

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT.parent / "shared" / "reference" / "dagger-api-v0.21.8.graphqls"
ID_PREFIX = "offline-id:"
_ID = re.compile(re.escape(ID_PREFIX) + r"(\d+)")


@dataclass
class Query:
    """One captured query: the chain of fields from the root to the awaited leaf."""

    fields: list[_core.Field]

    @property
    def path(self) -> list[str]:
        """The field names, e.g. ['container', 'from', 'withExec', 'stdout']."""
        return [f.name for f in self.fields]

    def calls(self, name: str) -> list[dict[str, Any]]:
        """The arguments of every selection of `name`, in order."""
        return [f.args for f in self.fields if f.name == name]

    def text(self) -> str:
        """A one-line rendering, for assertion messages."""
        return ".".join(f"{f.name}({f.args})" if f.args else f.name for f in self.fields)

    def root(self) -> _core.Field:
        """The chain folded into one nested field, as `Context.build` does."""
        return functools.reduce(
            lambda child, parent: parent.add_child(child), reversed(self.fields)
        )


Responder = Callable[[Query, Any], Any]


@dataclass
class OfflineEngine:
    """Stands in for the engine session; see the module docstring."""

    respond: Responder | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    queries: list[Query] = field(default_factory=list)
    #: Shared by every engine of the run: the SDK memoises some objects (the TypeDef of
    #: an annotation) with their ids resolved in place, so an id outlives its engine.
    objects: ClassVar[dict[str, Query]] = {}

    async def execute(self, ctx: _core.Context, return_type: Any = None) -> Any:
        await ctx.resolve_ids()
        query = Query([copy.deepcopy(f) for f in ctx.selections])
        self.queries.append(query)
        leaf = query.fields[-1].name
        if self.respond is not None:
            answer = self.respond(query, return_type)
            if answer is not None:
                return answer
        if leaf in ("id", "sync"):
            object_id = f"{ID_PREFIX}{len(self.objects)}"
            self.objects[object_id] = Query(query.fields[:-1])
            return object_id
        if leaf == "contents" and len(query.fields) >= 2 and query.fields[-2].name == "file":
            path = query.fields[-2].args["path"]
            if path in self.files:
                return self.files[path]
        return {str: "", int: 0, float: 0.0, bool: True}.get(return_type)

    def object(self, object_id: str) -> Query:
        """The chain that made the object `object_id` (an id this engine handed out)."""
        return self.objects[object_id]

    def expand(self, value: Any) -> Any:
        """`value` with every id replaced by the Query that made it, recursively."""
        if isinstance(value, str) and value in self.objects:
            return self.objects[value]
        if isinstance(value, list):
            return [self.expand(v) for v in value]
        if isinstance(value, dict):
            return {k: self.expand(v) for k, v in value.items()}
        return value

    def leaves(self, leaf: str) -> list[Query]:
        """Captured queries that end in `leaf` (e.g. 'combinedOutput', 'publish')."""
        return [q for q in self.queries if q.fields[-1].name == leaf]


@contextmanager
def offline(engine: OfflineEngine) -> Iterator[OfflineEngine]:
    """Route every query the SDK would send to `engine` for the duration."""
    original = _core.Context.execute

    async def execute(self: _core.Context, return_type: Any = None) -> Any:
        return await engine.execute(self, return_type)

    _core.Context.execute = execute  # type: ignore[method-assign]
    try:
        yield engine
    finally:
        _core.Context.execute = original  # type: ignore[method-assign]


@functools.cache
def load_schema(path: Path = SCHEMA_FILE) -> graphql.GraphQLSchema:
    """The engine's API schema, built from its SDL."""
    return graphql.build_schema(path.read_text(encoding="utf-8"))


def document(query: Query, schema: graphql.GraphQLSchema) -> graphql.DocumentNode:
    """The GraphQL document the SDK would send for `query` (its own DSL builder)."""
    return dsl_gql(DSLQuery(query.root().to_dsl(DSLSchema(schema)))).document


def problems(query: Query, schema: graphql.GraphQLSchema) -> list[str]:
    """What the engine's schema rejects in `query` (empty: it would be accepted)."""
    try:
        doc = document(query, schema)
    except (AttributeError, KeyError, TypeError, graphql.GraphQLError) as exc:
        return [f"cannot build {query.text()}: {type(exc).__name__}: {exc}"]
    return [error.message for error in graphql.validate(schema, doc)]


# -- the module under test -------------------------------------------------------------

# The repository's pipeline.toml with external databases: DATABASE_URL a secret of each
# environment, so the tests see how --app-secrets reach the deployer.
PIPELINE_TOML = (
    (ROOT / "pipeline.toml")
    .read_text(encoding="utf-8")
    .replace("secrets = []", 'secrets = ["DATABASE_URL"]')
    .replace('kind = "accessory"', 'kind = "external"')
)
#: The ids the tests hand in for Dagger objects given on the command line.
SOURCE_ID = "arg:source-directory"


def module() -> Module:
    """The SDK's module builder, with gangway_pipeline's functions registered on it."""
    builder = dagger.mod.default_module()
    # The name the engine's runtime passes in DAGGER_MAIN_OBJECT (set in conftest).
    assert builder._main_name == gangway_pipeline.GangwayPipeline.__name__
    return builder


def call(
    name: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    state: Mapping[str, Any] | None = None,
    respond: Responder | None = None,
    files: Mapping[str, str] | None = None,
) -> tuple[Any, OfflineEngine]:
    """Invoke function `name` as the engine would, offline; return its result and the engine.

    `inputs` use the API's argument names; Dagger objects are given as ids ("arg:...").
    """

    engine = OfflineEngine(respond=respond, files={"pipeline.toml": PIPELINE_TOML, **(files or {})})
    parent = {"source": SOURCE_ID, **(state or {})}
    with offline(engine):
        result = anyio.run(module().get_result, "GangwayPipeline", parent, name, dict(inputs or {}))
    return result, engine


def register() -> OfflineEngine:
    """Run the SDK's own registration (`Module._typedefs`) offline; return its queries."""

    engine = OfflineEngine()
    with offline(engine):
        anyio.run(module()._typedefs)
    return engine


@dataclass(frozen=True)
class Arg:
    """An argument as registered: API type, JSON default, default path, ignore list."""

    type: str
    default: str | None = None
    default_path: str | None = None
    ignore: tuple[str, ...] | None = None
    doc: str = ""


@dataclass(frozen=True)
class Function:
    """A function as registered with the engine."""

    returns: str
    args: dict[str, Arg]
    doc: str = ""
    check: bool = False
    up: bool = False
    cache: str | None = None


_KINDS = {"STRING_KIND": "String", "BOOLEAN_KIND": "Boolean", "INTEGER_KIND": "Int"}


def type_name(engine: OfflineEngine, typedef_id: str) -> str:
    """A registered TypeDef as GraphQL type syntax: `String!`, `Socket`, `[Secret!]`."""
    base, optional = "?", False
    for f in engine.object(typedef_id).fields[1:]:
        if f.name == "withKind":
            base = _KINDS.get(f.args["kind"], f.args["kind"])
        elif f.name == "withObject":
            base = f.args["name"]
        elif f.name == "withListOf":
            base = f"[{type_name(engine, f.args['elementType'])}]"
        elif f.name == "withOptional":
            optional = bool(f.args["optional"])
    return base if optional else base + "!"


def walk_registration(engine: OfflineEngine) -> tuple[str, dict[str, Function]]:
    """From the final `module ... id` query, follow the ids to every function of the
    main object: returns (object name, {function name ('' = constructor): Function})."""
    (final,) = [q for q in engine.queries if q.path[0] == "module"]
    (object_id,) = [a["object"] for a in final.calls("withObject")]
    typedef = engine.object(object_id)
    (name,) = [a["name"] for a in typedef.calls("withObject")]
    function_ids = [a["function"] for a in typedef.calls("withFunction")]
    function_ids += [a["function"] for a in typedef.calls("withConstructor")]
    functions = {}
    for function_id in function_ids:
        query = engine.object(function_id)
        head = query.fields[0].args
        args = {
            a["name"]: Arg(
                type=type_name(engine, a["typeDef"]),
                default=a.get("defaultValue"),
                default_path=a.get("defaultPath"),
                ignore=tuple(a["ignore"]) if a.get("ignore") is not None else None,
                doc=a.get("description") or "",
            )
            for a in query.calls("withArg")
        }
        policies = query.calls("withCachePolicy")
        functions[head["name"]] = Function(
            returns=type_name(engine, head["returnType"]),
            args=args,
            doc=next((a["description"] for a in query.calls("withDescription")), ""),
            check="withCheck" in query.path,
            up="withUp" in query.path,
            cache=policies[-1]["policy"] if policies else None,
        )
    return name, functions


def exec_error(
    cmd: list[str], *, exit_code: int = 1, stdout: str = "", stderr: str = ""
) -> dagger.ExecError:
    """The `dagger.ExecError` the SDK raises when an awaited exec exits non-zero."""

    value = QueryErrorValue(
        message="process did not complete successfully: exit code: 1",
        extensions={
            "_type": "EXEC_ERROR",
            "cmd": cmd,
            "exitCode": exit_code,
            "stdout": stdout,
            "stderr": stderr,
        },
    )
    request = gql.GraphQLRequest("{ version }")
    return dagger.ExecError([value], request)  # type: ignore[no-untyped-call]


def last_exec(query: Query) -> list[str]:
    """The argv of the last withExec in a captured chain."""
    execs = query.calls("withExec")
    assert execs, f"no withExec in {query.text()}"
    args: list[str] = execs[-1]["args"]
    return args


def env_vars(query: Query) -> dict[str, str]:
    """The plain environment variables a captured container chain sets (last wins)."""
    return {a["name"]: a["value"] for a in query.calls("withEnvVariable")}


def query_error(message: str) -> dagger.QueryError:
    """The `dagger.QueryError` the SDK raises when the engine refuses a request."""
    request = gql.GraphQLRequest("{ version }")
    return dagger.QueryError([QueryErrorValue(message=message)], request)
