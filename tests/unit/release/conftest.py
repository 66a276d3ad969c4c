"""The repository's own pipeline.toml as the deployer's config, with per-test overrides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gangway.config import PipelineConfig, load_config
from gangway.execute import Executor, RecordingExecutor
from gangway.health import Probe
from gangway.progress import Progress
from gangway.release.deployer import Deployer

ROOT_CONFIG = Path(__file__).parents[3] / "pipeline.toml"

EXTERNAL_DATABASE: dict[str, object] = {
    f"environments.{env}.{key}": value
    for env in ("staging", "production")
    for key, value in (("database.kind", "external"), ("secrets", ["DATABASE_URL"]))
}

MakeConfig = Callable[..., PipelineConfig]
MakeDeployer = Callable[..., Deployer]


@pytest.fixture
def make_config() -> MakeConfig:
    """pipeline.toml of the repository, with dotted-key overrides (no environment read)."""

    def make(overrides: Mapping[str, object] | None = None) -> PipelineConfig:
        # The deployer's tests speak of an external database (DATABASE_URL a secret);
        # the accessory, the repository's default, has tests of its own that say so.
        layered = {**EXTERNAL_DATABASE, **(overrides or {})}
        return load_config(ROOT_CONFIG, environ={}, secrets_dir=None, overrides=layered)

    return make


@dataclass
class FakeReadiness:
    """No HTTP in unit tests: the readiness probe answers `answer` (or what `answers` says
    for a URL: liveness and readiness apart; a list is answered in turn, its last answer
    repeated) and keeps each URL."""

    urls: list[str] = field(default_factory=list)
    answer: Probe = field(default_factory=lambda: Probe(True, "HTTP 200", 1, 0.0))
    answers: dict[str, Probe | list[Probe]] = field(default_factory=dict)

    def __call__(self, url: str, deadline: float, interval: float, timeout: float) -> Probe:
        self.urls.append(url)
        answer = self.answers.get(url, self.answer)
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer


@pytest.fixture
def readiness() -> FakeReadiness:
    return FakeReadiness()


@pytest.fixture
def make_deployer(make_config: MakeConfig, readiness: FakeReadiness) -> MakeDeployer:
    """A quiet production Deployer on `executor`, acting as "ana", proven ready by
    `readiness`; the smoke command runs on `local` (default: a recording executor)."""

    def make(
        executor: Executor | None = None,
        *,
        overrides: Mapping[str, object] | None = None,
        progress: Progress | None = None,
        local: Executor | None = None,
        secret_files: Mapping[str, str] | None = None,
    ) -> Deployer:
        return Deployer(
            make_config(overrides),
            "production",
            executor or RecordingExecutor(),
            progress or Progress(quiet=True),
            who="ana",
            readiness=readiness,
            local=local or RecordingExecutor(),
            secret_files=secret_files or {},
        )

    return make
