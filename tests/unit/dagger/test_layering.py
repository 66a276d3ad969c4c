"""The layering the module relies on: the core never imports dagger; the module holds no policy."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "src" / "gangway"
MODULE = ROOT / "dagger" / "src" / "gangway_pipeline"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_core_never_imports_dagger() -> None:
    # (lint-imports holds this too, tests/unit/test_layering.py; this one needs no tool.)
    assert (CORE / "__init__.py").is_file(), f"the core is not at {CORE}"
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted(CORE.rglob("*.py"))
        if any(name.split(".")[0] == "dagger" for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_module_takes_its_commands_from_the_core() -> None:
    imports = imported_modules(MODULE / "main.py")
    assert {"gangway.stages.argv", "gangway.stages", "gangway.config"} <= imports
    # No command builders or deploy logic of its own: it never runs docker or subprocess.
    assert not imports & {"subprocess", "gangway.release.deployer", "gangway.execute"}
