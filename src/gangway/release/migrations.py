"""Pending migrations as the new image reports them, and the destructive-migration guard.

During a blue-green deploy the old color keeps serving on the database the new
release migrates: a migration that drops or renames a table or column the old code
still uses breaks live traffic before the switch. `find_destructive` reads the
`upgrade()` of each pending script (never `downgrade()`) and names every such step.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gangway.errors import PendingUnreadable

# Alembic operations that remove or rename what the running release may still read.
_DROPPING_CALLS = {
    "drop_table": "drops table",
    "drop_column": "drops column",
    "rename_table": "renames table",
}
_SQL = re.compile(
    r"\bDROP\s+TABLE\b|\bDROP\s+COLUMN\b|\bALTER\s+TABLE\b[^;]*?\bRENAME\b",
    re.IGNORECASE | re.DOTALL,
)

EXPAND_CONTRACT = (
    "the old release keeps serving on this database until the switch, so a drop or rename "
    "breaks it mid-deploy. Use expand/contract instead: (1) add the new table or column "
    "next to the old one and deploy; (2) backfill it and make the code write both and read "
    "the new one, deploy; (3) stop using the old one, deploy; (4) drop it in a later "
    "release, once no live color reads it. If you accept the breakage (e.g. the old "
    "column is unused already), deploy again with --allow-destructive"
)


@dataclass(frozen=True)
class PendingMigration:
    """One revision the database is not at yet: its id, one-line doc and script text."""

    revision: str
    description: str = ""
    path: str = ""
    source: str = ""


@dataclass(frozen=True)
class PendingReport:
    """What `migrations.pending` printed: the revisions the new image would apply."""

    current: tuple[str, ...]
    head: tuple[str, ...]
    pending: tuple[PendingMigration, ...]


def parse_pending(output: str) -> PendingReport:
    """The last JSON object line of `output` (apps may log before it), as a report.

    Expected: {"current": [...], "head": [...], "pending": [{"revision": "0002",
    "description": "...", "path": "...", "source": "..."}]}."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise PendingUnreadable(f"not JSON: {line[:80]!r}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("pending"), list):
            raise PendingUnreadable('expected an object with a "pending" list')
        pending = []
        for item in data["pending"]:
            if not isinstance(item, dict) or not isinstance(item.get("revision"), str):
                raise PendingUnreadable('each "pending" entry needs a "revision" string')
            pending.append(
                PendingMigration(
                    revision=item["revision"],
                    description=str(item.get("description") or ""),
                    path=str(item.get("path") or ""),
                    source=str(item.get("source") or ""),
                )
            )
        return PendingReport(
            current=tuple(str(r) for r in data.get("current") or ()),
            head=tuple(str(r) for r in data.get("head") or ()),
            pending=tuple(pending),
        )
    raise PendingUnreadable("no JSON object in its output")


@dataclass(frozen=True)
class Finding:
    """One destructive step of a migration script, located by file and line."""

    path: str
    line: int
    what: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def find_destructive(path: str, source: str) -> list[Finding]:
    """Drops and renames of tables or columns in the script's `upgrade()` (Alembic ops,
    batch ops, and raw SQL given to `op.execute` as a literal). A `.sql` script is read
    whole. A script that is not valid Python is reported, never passed silently."""
    if path.endswith(".sql"):
        return _sql_findings(path, source, 1)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 1, f"cannot be parsed ({exc.msg}); not checked")]
    findings: list[Finding] = []
    for function in _upgrade_functions(tree):
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                findings += _call_findings(path, node)
    return sorted(findings, key=lambda finding: finding.line)


def _upgrade_functions(tree: ast.Module) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "upgrade":
            yield node


def _call_findings(path: str, call: ast.Call) -> list[Finding]:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    if name in _DROPPING_CALLS:
        return [Finding(path, call.lineno, f"{name}({_args(call)}) {_DROPPING_CALLS[name]}")]
    if name == "alter_column":
        for keyword in call.keywords:
            if keyword.arg == "new_column_name":
                return [
                    Finding(
                        path,
                        call.lineno,
                        f"alter_column({_args(call)}, new_column_name="
                        f"{_literal(keyword.value)}) renames column",
                    )
                ]
    if name == "execute":
        return [
            finding
            for text, line in _strings(call.args)
            for finding in _sql_findings(path, text, line)
        ]
    return []


def _sql_findings(path: str, text: str, first_line: int) -> list[Finding]:
    findings = []
    for match in _SQL.finditer(text):
        line = first_line + text.count("\n", 0, match.start())
        statement = " ".join(match.group(0).split())
        findings.append(Finding(path, line, f"SQL {statement!r} drops or renames"))
    return findings


def _strings(nodes: Sequence[ast.expr]) -> Iterable[tuple[str, int]]:
    """String literals passed directly or through a call such as `sa.text("...")`."""
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value, node.lineno
        elif isinstance(node, ast.Call):
            yield from _strings(node.args)


def _args(call: ast.Call) -> str:
    return ", ".join(_literal(arg) for arg in call.args)


def _literal(node: ast.expr) -> str:
    if isinstance(node, ast.Constant):
        return repr(node.value)
    return ast.unparse(node)


def destructive_findings(pending: Iterable[PendingMigration]) -> list[Finding]:
    """Every destructive step of every pending script, in order."""
    findings: list[Finding] = []
    for migration in pending:
        findings += find_destructive(migration.path or migration.revision, migration.source)
    return findings
