"""The road as data: the stages in order, what each runs, which deploy is smoke-tested first.

Both runners consume this one description. A runner implements the `StageRunner`
methods (how to run a test command, a build, a deploy... in its world: processes on
this machine, or Dagger containers); `bind()` turns the road into the ordered
(name, callable) list that `graph.run_stages` runs. The command lines come from
`Road`, built on `gangway.stages.argv`, so neither runner decides what a stage runs
nor where the smoke subset applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeVar

from gangway.config import PipelineConfig
from gangway.stages import argv
from gangway.stages.graph import STAGES, StageName

Action = Literal["test", "build", "scan", "publish", "deploy", "integration-test"]
EnvironmentName = Literal["staging", "production"]


@dataclass(frozen=True)
class Stage:
    """One stage of the road: what it does, and for a deploy where to and how."""

    name: StageName
    action: Action
    summary: str
    environment: EnvironmentName | None = None
    #: The deployer runs [stages] smoke against the preview route before the switch.
    smoke_first: bool = False


ROAD: Final[tuple[Stage, ...]] = (
    Stage("test", "test", "unit and app tests ([stages] test), then pip-audit ([stages] audit)"),
    Stage("build", "build", "the image from [image] dockerfile, tagged with the version"),
    Stage("scan", "scan", "Trivy on the image, gated by [scan]"),
    Stage("publish", "publish", "push the version and latest tags to [registry]"),
    Stage("deploy-staging", "deploy", "blue-green deploy to staging", environment="staging"),
    Stage(
        "integration-test",
        "integration-test",
        "the deployed-app suite ([stages] integration_test) against staging",
    ),
    Stage(
        "deploy-production",
        "deploy",
        "blue-green deploy to production, smoke-tested ([stages] smoke) before the switch",
        environment="production",
        smoke_first=True,
    ),
)


def stage(name: StageName) -> Stage:
    """The stage called `name`."""
    return next(s for s in ROAD if s.name == name)


def stages_through(through: StageName = STAGES[-1]) -> tuple[Stage, ...]:
    """The road in order, up to and including `through`."""
    return ROAD[: STAGES.index(through) + 1]


def deploy_stage(environment: str) -> Stage:
    """The stage that deploys to `environment`; KeyError for an environment no stage has."""
    for candidate in ROAD:
        if candidate.environment == environment:
            return candidate
    raise KeyError(environment)


def smoke_before(config: PipelineConfig, environment: str) -> list[str]:
    """The smoke command (its `{url}` left in) a deploy to `environment` runs first; []
    when that deploy is not smoke-tested or [stages] smoke is empty."""
    try:
        smoked = deploy_stage(environment).smoke_first
    except KeyError:
        smoked = False
    return list(config.stages.smoke) if smoked else []


@dataclass(frozen=True)
class Road:
    """The command lines of one run's stages: a config, where the runner sees its file,
    and the version being shipped."""

    config: PipelineConfig
    config_path: str
    version: str

    @property
    def image(self) -> str:
        """The reference this run builds, publishes and deploys."""
        return argv.image_ref(self.config, self.version)

    def test_argv(self) -> list[str]:
        return argv.run_tests_argv(self.config)

    def publish_refs(self) -> list[str]:
        """Every reference the publish stage pushes, the version's first."""
        return [argv.image_ref(self.config, tag) for tag in argv.publish_tags(self.version)]

    def deploy_argv(self, environment: str, image: str = "") -> list[str]:
        """`gangway deploy` of this run's image (or `image`), smoke-tested where the road says."""
        return argv.deploy_argv(
            self.config_path,
            environment,
            image or self.image,
            version=self.version,
            smoke=smoke_before(self.config, environment),
        )

    def integration_test_argv(self, base_url: str = "") -> list[str]:
        """The deployed-app suite against `base_url` (default: staging's URL)."""
        url = base_url or self.config.environments.staging.effective_url
        return argv.integration_test_argv(self.config, url)


R_co = TypeVar("R_co", covariant=True)


class StageRunner(Protocol[R_co]):
    """What a runner implements: one method per kind of stage, in its own world."""

    def test(self) -> R_co: ...
    def build(self) -> R_co: ...
    def scan(self) -> R_co: ...
    def publish(self) -> R_co: ...
    def deploy(self, environment: str) -> R_co: ...
    def integration_test(self) -> R_co: ...


R = TypeVar("R")


def bind(
    runner: StageRunner[R], stages: Sequence[Stage] = ROAD
) -> list[tuple[StageName, Callable[[], R]]]:
    """`stages` as (name, callable) pairs for `run_stages`, each calling `runner`."""
    return [(s.name, _call(runner, s)) for s in stages]


def _call(runner: StageRunner[R], s: Stage) -> Callable[[], R]:
    match s.action:
        case "test":
            return runner.test
        case "build":
            return runner.build
        case "scan":
            return runner.scan
        case "publish":
            return runner.publish
        case "integration-test":
            return runner.integration_test
        case "deploy":
            environment = s.environment
            assert environment is not None, f"{s.name} deploys nowhere"
            return lambda: runner.deploy(environment)
