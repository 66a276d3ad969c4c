"""Which Trivy runs: the given binary, the local one when air-gapped, else the image."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gangway.config import load_config
from gangway.scan.scanner import (
    ContainerTrivy,
    LocalTrivy,
    airgapped,
    choose_trivy,
    find_trivy_binary,
)

AIRGAPPED = {"GANGWAY_AIRGAPPED": "1"}


def test_the_pinned_container_runs_trivy_by_default(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={})
    assert not airgapped(config)
    assert choose_trivy(config, find=lambda: "/usr/bin/trivy") == ContainerTrivy(config.scan)


def test_air_gapped_the_local_binary_runs_trivy(minimal_config: Path, tmp_path: Path) -> None:
    config = load_config(minimal_config, environ=AIRGAPPED)
    assert airgapped(config)
    chosen = choose_trivy(config, cache_dir=tmp_path, find=lambda: "/venv/bin/trivy")
    assert chosen == LocalTrivy("/venv/bin/trivy", str(tmp_path.resolve()))


def test_air_gapped_without_a_binary_the_container_says_why_it_cannot_run(
    minimal_config: Path,
) -> None:
    config = load_config(minimal_config, environ=AIRGAPPED)
    assert choose_trivy(config, find=lambda: None) == ContainerTrivy(config.scan)


@pytest.mark.parametrize("environ", [{}, AIRGAPPED])
def test_an_explicit_binary_always_wins(minimal_config: Path, environ: dict[str, str]) -> None:
    config = load_config(minimal_config, environ=environ)
    chosen = choose_trivy(config, binary="/opt/trivy", find=lambda: "/venv/bin/trivy")
    assert isinstance(chosen, LocalTrivy)
    assert chosen.binary == "/opt/trivy"


def test_the_binary_beside_this_python_comes_before_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    monkeypatch.setattr(sys, "executable", str(python))
    assert find_trivy_binary(which=lambda _name: "/usr/bin/trivy") == "/usr/bin/trivy"
    (tmp_path / "bin" / "trivy").write_text("")
    assert find_trivy_binary(which=lambda _name: "/usr/bin/trivy") == str(tmp_path / "bin/trivy")
