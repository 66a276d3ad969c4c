"""Trivy's `.trivyignore.yaml`, read strictly: every entry needs a statement and a valid expiry.

Trivy itself treats an entry whose `expired_at` it cannot parse as not ignored, without
a word; here any malformed entry is a ConfigError naming the file and the line.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Final, cast

import yaml

from gangway.config.syntax import nesting_position, undecodable_byte
from gangway.errors import NO_VALUE, ConfigError, ConfigProblem
from gangway.scan.policy import IgnoreKind, IgnoreRule

SECTIONS: Final[dict[str, IgnoreKind]] = {
    "vulnerabilities": "vulnerability",
    "secrets": "secret",
    "misconfigurations": "misconfiguration",
    "licenses": "license",
}
ENTRY_KEYS: Final = ("id", "paths", "purls", "statement", "expired_at")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def load_ignore_file(path: Path) -> tuple[IgnoreRule, ...]:
    """Read and validate an ignore file; ConfigError if it is missing or malformed."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("ignore file not found", file=file)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [ConfigProblem(f"cannot read the ignore file: {exc}", file=file)]
        ) from None
    return parse_ignore_file(text, file=file)


def parse_ignore_file(text: str, *, file: str = ".trivyignore.yaml") -> tuple[IgnoreRule, ...]:
    """The rules of an ignore file's text; one ConfigError listing every problem found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            [
                ConfigProblem(
                    f"not valid YAML: {exc.problem or exc.context}",
                    file=file,
                    line=mark.line + 1 if mark else None,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(f"not valid YAML: {exc}", file=file)]) from None
    except RecursionError:
        line, column = nesting_position(text, comments=True)
        raise ConfigError(
            [ConfigProblem("not valid YAML: nested too deeply", file=file, line=line,
                           column=column)]
        ) from None  # fmt: skip
    reader = _Reader(file)
    rules = reader.document(root)
    if reader.problems:
        raise ConfigError(reader.problems)
    return tuple(rules)


class _Reader:
    """Walks the composed YAML nodes, keeping each node's line for the error messages."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ConfigProblem] = []

    def problem(
        self, node: yaml.Node, message: str, key: str | None = None, value: object = NO_VALUE
    ) -> None:
        self.problems.append(
            ConfigProblem(
                message, file=self.file, key=key, value=value, line=node.start_mark.line + 1
            )
        )

    def document(self, root: yaml.Node | None) -> list[IgnoreRule]:
        if root is None or _is_null(root):
            return []
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "expected a mapping with vulnerabilities:, secrets:, ... lists")
            return []
        rules: list[IgnoreRule] = []
        for key, key_node, value in self.mapping(root, ""):
            kind = SECTIONS.get(key)
            if kind is None:
                self.problem(
                    key_node,
                    f"unknown section; expected one of {', '.join(SECTIONS)}",
                    key=key,
                )
                continue
            if _is_null(value):
                continue
            if not isinstance(value, yaml.SequenceNode):
                self.problem(value, "expected a list of entries", key=key)
                continue
            for index, entry in enumerate(value.value):
                rule = self.entry(entry, kind, f"{key}[{index}]")
                if rule is not None:
                    rules.append(rule)
        return rules

    def mapping(self, node: yaml.MappingNode, where: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """The (key, key node, value node) triples of a mapping; a repeated key is a problem."""
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: set[str] = set()
        for key_node, value_node in cast("list[tuple[yaml.Node, yaml.Node]]", node.value):
            key = str(key_node.value)
            path = f"{where}.{key}" if where else key
            if key in seen:
                self.problem(key_node, "repeated key", key=path)
                continue
            seen.add(key)
            pairs.append((key, key_node, value_node))
        return pairs

    def entry(self, node: yaml.Node, kind: IgnoreKind, where: str) -> IgnoreRule | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "expected an entry with id, statement and expired_at", key=where)
            return None
        before = len(self.problems)
        fields = {key: value for key, _, value in self.mapping(node, where)}
        for key in fields.keys() - set(ENTRY_KEYS):
            self.problem(
                fields[key], f"unknown key; expected {', '.join(ENTRY_KEYS)}", key=f"{where}.{key}"
            )
        rule_id = self.text(node, fields, "id", where)
        statement = self.text(node, fields, "statement", where, why=" (the reason it is accepted)")
        expires = self.expiry(node, fields, where)
        paths = self.strings(fields, "paths", where)
        purls = self.strings(fields, "purls", where)
        if len(self.problems) > before or rule_id is None or statement is None or expires is None:
            return None
        return IgnoreRule(
            id=rule_id,
            reason=statement,
            expires=expires,
            source=f"{self.file}:{node.start_mark.line + 1}",
            kind=kind,
            paths=paths,
            purls=purls,
        )

    def text(
        self, entry: yaml.Node, fields: dict[str, yaml.Node], key: str, where: str, why: str = ""
    ) -> str | None:
        node = fields.get(key)
        if node is None:
            self.problem(entry, f"missing {key}{why}", key=f"{where}.{key}")
            return None
        if not isinstance(node, yaml.ScalarNode) or _is_null(node) or not str(node.value).strip():
            self.problem(node, f"{key} must be non-empty text{why}", key=f"{where}.{key}")
            return None
        if undecodable_byte(str(node.value)) is not None:
            self.problem(node, f"{key} holds an escape of a lone surrogate, which is not text",
                         key=f"{where}.{key}")  # fmt: skip
            return None
        return str(node.value).strip()

    def expiry(self, entry: yaml.Node, fields: dict[str, yaml.Node], where: str) -> date | None:
        node = fields.get("expired_at")
        key = f"{where}.expired_at"
        if node is None:
            self.problem(
                entry, "missing expired_at: every ignore needs an expiry date (YYYY-MM-DD)", key=key
            )
            return None
        raw = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
        parsed = _parse_date(raw)
        if parsed is None:
            self.problem(
                node,
                "expected a date YYYY-MM-DD (Trivy would silently stop ignoring this entry)",
                key=key,
                value=raw if isinstance(node, yaml.ScalarNode) else NO_VALUE,
            )
        return parsed

    def strings(self, fields: dict[str, yaml.Node], key: str, where: str) -> tuple[str, ...]:
        node = fields.get(key)
        if node is None or _is_null(node):
            return ()
        items = node.value if isinstance(node, yaml.SequenceNode) else None
        if items is None or not all(
            isinstance(item, yaml.ScalarNode)
            and str(item.value).strip()
            and undecodable_byte(str(item.value)) is None
            for item in items
        ):
            self.problem(node, "expected a list of non-empty strings", key=f"{where}.{key}")
            return ()
        return tuple(str(item.value).strip() for item in items)


def _is_null(node: yaml.Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


def _parse_date(raw: str) -> date | None:
    match = _DATE.fullmatch(raw)
    try:
        if match:
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
        # Trivy also takes a full RFC 3339 timestamp; the day is what the gate uses.
        return datetime.fromisoformat(raw).date() if "T" in raw or " " in raw else None
    except ValueError:
        return None
