"""The import contracts of pyproject.toml hold, and they break when a wrong import appears."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gangway

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(gangway.__file__).resolve().parent
LAYERS = "Layers of the core"
FORBIDDEN = "The core never imports dagger or sample_app"
INDEPENDENT = "CLI subcommands share gangway.cli.common, never each other"


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the repository's contracts on the package copied under `src`."""
    executable = Path(sys.executable).parent / "lint-imports"
    # lint-imports puts its working directory first on sys.path: run in the copy so that it
    # analyses the copy, not the installed (editable) gangway. COLUMNS keeps contract
    # names on one line.
    environ = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(executable), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of src/gangway to break, under tmp_path/src."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "gangway", ignore=shutil.ignore_patterns("__pycache__"))
    return src


def inject(src: Path, module: str, line: str) -> None:
    path = src / module
    assert path.is_file(), f"{module} is gone: choose another module to inject into"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n{line}  # injected by the test\n")


def test_the_pristine_core_keeps_every_contract(copy: Path) -> None:
    result = lint_imports(copy)

    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (LAYERS, FORBIDDEN, INDEPENDENT):
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken", "violation"),
    [
        (
            "gangway/commands/docker.py",
            "from gangway.release import deployer",
            LAYERS,
            "gangway.commands is not allowed to import gangway.release",
        ),
        ("gangway/config/model.py", "import dagger", FORBIDDEN, "gangway.config.model -> dagger"),
        ("gangway/masking.py", "import sample_app", FORBIDDEN, "gangway.masking -> sample_app"),
        (
            "gangway/cli/db.py",
            "from gangway.cli.deploy import run_status",
            INDEPENDENT,
            "gangway.cli.db -> gangway.cli.deploy",
        ),
    ],
    ids=["commands-imports-release", "core-imports-dagger", "core-imports-app", "cli-circle"],
)
def test_a_wrong_import_breaks_the_contract_that_forbids_it(
    copy: Path, module: str, line: str, broken: str, violation: str
) -> None:
    inject(copy, module, line)

    result = lint_imports(copy)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken} BROKEN" in result.stdout
    assert violation in result.stdout
    for contract in {LAYERS, FORBIDDEN, INDEPENDENT} - {broken}:
        assert f"{contract} KEPT" in result.stdout
