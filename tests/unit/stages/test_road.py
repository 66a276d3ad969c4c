"""The core's road: one description of the stages, bound by any runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from gangway.config import load_config
from gangway.stages import STAGES
from gangway.stages.road import ROAD, Road, bind, deploy_stage, smoke_before, stages_through

SMOKE = ["python", "-m", "pytest", "tests/deployed", "-q", "-m", "smoke", "--base-url", "{url}"]


def test_the_road_is_the_graphs_order() -> None:
    assert tuple(stage.name for stage in ROAD) == STAGES
    assert [stage.name for stage in stages_through("scan")] == ["test", "build", "scan"]


def test_only_production_is_smoke_tested_before_its_switch(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={})
    assert [stage.name for stage in ROAD if stage.smoke_first] == ["deploy-production"]
    assert smoke_before(config, "production") == SMOKE
    assert smoke_before(config, "staging") == []
    assert smoke_before(config, "elsewhere") == []


def test_no_smoke_command_means_no_smoke_before_production(minimal_config: Path) -> None:
    config = load_config(minimal_config, environ={}, overrides={"stages.smoke": []})
    assert smoke_before(config, "production") == []


def test_deploy_commands_carry_the_smoke_subset_only_to_production(minimal_config: Path) -> None:
    road = Road(load_config(minimal_config, environ={}), "pipeline.toml", "abc")
    assert road.image == "127.0.0.1:5000/notes:abc"
    assert road.deploy_argv("staging") == [
        "gangway", "--config", "pipeline.toml", "deploy", "--env", "staging",
        "--image", "127.0.0.1:5000/notes:abc", "--version", "abc",
    ]  # fmt: skip
    assert road.deploy_argv("production", "reg/other:1") == [
        "gangway", "--config", "pipeline.toml", "deploy", "--env", "production",
        "--image", "reg/other:1", "--smoke",
        "python -m pytest tests/deployed -q -m smoke --base-url '{url}'", "--version", "abc",
    ]  # fmt: skip
    assert road.publish_refs() == ["127.0.0.1:5000/notes:abc", "127.0.0.1:5000/notes:latest"]
    assert road.integration_test_argv()[-2:] == ["--base-url", "http://127.0.0.1:8080"]


class Calls:
    """A StageRunner that says which of its methods each stage called."""

    def test(self) -> str:
        return "test"

    def build(self) -> str:
        return "build"

    def scan(self) -> str:
        return "scan"

    def publish(self) -> str:
        return "publish"

    def deploy(self, environment: str) -> str:
        return f"deploy {environment}"

    def integration_test(self) -> str:
        return "integration-test"


def test_bind_maps_each_stage_to_the_runners_method() -> None:
    bound = bind(Calls())
    assert [(name, call()) for name, call in bound] == [
        ("test", "test"),
        ("build", "build"),
        ("scan", "scan"),
        ("publish", "publish"),
        ("deploy-staging", "deploy staging"),
        ("integration-test", "integration-test"),
        ("deploy-production", "deploy production"),
    ]


def test_each_environment_has_its_deploy_stage() -> None:
    assert deploy_stage("staging").name == "deploy-staging"
    assert deploy_stage("production").name == "deploy-production"
    with pytest.raises(KeyError):
        deploy_stage("qa")


def test_the_core_decides_the_road_not_the_adapters() -> None:
    """Neither runner spells out the stage table or where smoke applies any more."""
    root = Path(__file__).resolve().parents[3]
    for path in (
        root / "src/gangway/stages/local.py",
        root / "dagger/src/gangway_pipeline/main.py",
    ):
        text = path.read_text(encoding="utf-8")
        assert 'environment == "production"' not in text, path
        assert '("deploy-staging", ' not in text, path
    noxfile = (root / "noxfile.py").read_text(encoding="utf-8")
    pipeline = noxfile[noxfile.index("def pipeline(") : noxfile.index("def bench(")]
    assert "--trivy-binary" not in pipeline
    # It still fills the wheelhouse when air-gapped; the Trivy choice is gangway's.
    assert "_airgapped" not in pipeline.split("_fill_wheelhouse")[1]
