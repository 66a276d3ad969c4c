"""The local runner: the stage graph on the plain Docker engine, no Dagger needed.

The road and each stage's command line come from the core (`gangway.stages.road`),
as in the Dagger module; here they run as processes from the repository root, through
one Executor (a LocalProcess by default, a RecordingExecutor in tests): the test
command, `docker build` of the same Dockerfile, the scan stage, `docker push`, and
`gangway deploy` for staging and production. Output of the chatty stages is written
to a log file per stage under the run's directory as it comes, and its last lines are
shown when the stage fails; the deploys print their own progress lines as they go.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from gangway.commands.docker import Command
from gangway.commands.image import build_argv
from gangway.config import PipelineConfig
from gangway.errors import CommandFailed, GangwayError
from gangway.execute import EXIT_NOT_FOUND, Executor, LocalProcess, Output
from gangway.notify import DeployEvent, Notifier
from gangway.scan.audit import AuditResult, run_audit
from gangway.stages import argv
from gangway.stages.graph import PipelineReport, StageFn, StageName, StageResult
from gangway.stages.road import Road, bind, deploy_stage, stages_through

TAIL_LINES = 25
#: Seconds a test run, a build, a push or a deploy may take before it is stopped.
STAGE_TIMEOUT: Final = 3600.0
#: Seconds a quick docker command (tag, inspect, login) may take.
QUICK_TIMEOUT: Final = 120.0
# A Docker tag: what a git-describe-ish version must be turned into.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_tag(version: str) -> str:
    """`version` as a valid Docker tag (at most 128 characters of [A-Za-z0-9_.-])."""
    tag = _TAG_UNSAFE.sub("-", version).lstrip(".-") or "dev"
    return tag[:128]


def git_revision(root: Path, executor: Executor | None = None) -> tuple[str, bool]:
    """The commit at `root` (12 hex digits) and whether the work tree has changes."""
    git = executor or LocalProcess(cwd=root)
    try:
        head = git.run(
            Command(("git", "rev-parse", "--short=12", "HEAD"), "read the commit", query=True),
            check=False,
        )
        if not head.ok:
            return "unknown", True
        dirty = git.run(
            Command(
                ("git", "status", "--porcelain", "--untracked-files=no"),
                "see whether the work tree has changes",
                query=True,
            ),
            check=False,
        )
    except CommandFailed:  # no git here
        return "unknown", True
    return head.stdout.strip(), bool(dirty.stdout.strip())


def default_version(revision: str, dirty: bool, stamp: str) -> str:
    """The version a run publishes: the commit, plus a stamp when the tree is dirty (the
    same commit with other changes must not reuse its tag)."""
    return safe_tag(f"{revision}-dirty.{stamp}" if dirty else revision)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def pytest_counts(output: str) -> str:
    """The summary of a pytest run (`12 passed, 1 skipped in 3.1s`), if it printed one."""
    for line in reversed(output.strip().splitlines()):
        stripped = line.strip("= ").strip()
        if re.search(r"\b(passed|failed|error|errors|no tests ran)\b", stripped):
            return stripped
    return ""


@dataclass
class Ran:
    """A finished command of a stage."""

    argv: list[str]
    returncode: int
    output: str
    log: Path | None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class LocalPipeline:
    """The stages of one run, bound to a checkout, a config and a version."""

    config: PipelineConfig
    config_path: Path
    root: Path
    version: str
    revision: str
    out_dir: Path
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    scan_stage: Callable[[LocalPipeline], StageResult] | None = None
    trivy_binary: str | None = None
    artifacts: list[str] = field(default_factory=list)
    #: Runs every command of the stages; default: a LocalProcess in `root` with `_env()`.
    executor: Executor | None = None

    def __post_init__(self) -> None:
        if self.executor is None:
            self.executor = LocalProcess(cwd=self.root, environ=self._env())

    @property
    def runs(self) -> Executor:
        assert self.executor is not None, "set by __post_init__"
        return self.executor

    @property
    def road(self) -> Road:
        """The core's command lines for this run."""
        return Road(self.config, str(self.config_path), self.version)

    # -- running commands ---------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(self.environ)
        # The interpreter running gangway first on PATH: `python -m pytest` and `gangway`
        # then come from the same environment as this runner.
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        return env

    def run(
        self,
        command: Sequence[str],
        log: str | None,
        *,
        stream: bool = False,
        purpose: str = "",
        stdin: str | None = None,
    ) -> Ran:
        """Run `command` from the repository root; output to `log` as it comes, or to the
        stream (`stream`), else captured."""
        argv_ = self._resolve(command)
        print(f"    $ {shlex.join(argv_)}", file=self.stream, flush=True)
        path = self.out_dir / log if log else None
        output: Output = self.stream if stream else path
        timeout = STAGE_TIMEOUT if output is not None else QUICK_TIMEOUT
        planned = Command(tuple(argv_), purpose or shlex.join(argv_[:2]), stdin=stdin)
        try:
            result = self.runs.run(planned, check=False, timeout=timeout, output=output)
        except CommandFailed as exc:  # could not start, or timed out
            missing = exc.returncode == EXIT_NOT_FOUND
            said = f"command not found: {argv_[0]}" if missing else exc.stderr
            return Ran(argv_, exc.returncode, exc.stdout + said + "\n", path)
        text = "" if stream else result.stdout + result.stderr
        return Ran(argv_, result.returncode, text, path)

    @staticmethod
    def _resolve(command: Sequence[str]) -> list[str]:
        # `gangway` is this very package: run it with this interpreter, PATH or not.
        if command and command[0] == "gangway":
            return [sys.executable, "-m", "gangway", *command[1:]]
        return list(command)

    def _failed(self, name: StageName, message: str, ran: Ran, hint: str) -> StageResult:
        if ran.output:
            print(tail(ran.output), file=self.stream, flush=True)
        where = f" (full log: {ran.log})" if ran.log else ""
        return StageResult(
            name=name,
            status="failed",
            message=message + where,
            hint=hint,
            artifacts=[str(ran.log)] if ran.log else [],
        )

    # -- the stages ---------------------------------------------------------------------

    @property
    def image(self) -> str:
        """The reference this run builds, publishes and deploys."""
        return self.road.image

    def test(self) -> StageResult:
        ran = self.run(self.road.test_argv(), "test.log")
        counts = pytest_counts(ran.output)
        if not ran.ok:
            return self._failed(
                "test",
                f"tests failed: {counts or f'exit {ran.returncode}'}",
                ran,
                f"fix the failing tests; run them alone with: {shlex.join(ran.argv)}",
            )
        audits = [self.audit(Path(path)) for path in self.config.stages.audit]
        for line in audits:
            print(f"    {line.message}", file=self.stream, flush=True)
        blocking = [result for result in audits if result.blocks]
        message = counts or "tests passed"
        if blocking:
            return StageResult(
                name="test",
                status="failed",
                message=f"{message}; {blocking[0].message}",
                hint="upgrade or accept (with an expiry) what the audit names; where the "
                "vulnerability service cannot be reached, scan.audit_required decides",
                artifacts=[str(ran.log)],
            )
        if audits:
            message += "; " + "; ".join(result.message for result in audits)
        return StageResult(
            name="test",
            status="passed",
            message=message,
            artifacts=[str(ran.log)],
        )

    def audit(self, requirements: Path) -> AuditResult:
        """pip-audit of one locked requirements file, judged by [scan]."""
        report = self.out_dir / f"audit-{requirements.stem}.json"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return run_audit(
            self.config.scan, self.root / requirements, report_path=report, executor=self.runs
        )

    def build(self) -> StageResult:
        command = build_argv(
            self.config.image,
            tag=self.image,
            root=self.root,
            version=self.version,
            revision=self.revision,
        )
        ran = self.run(command, "build.log")
        if not ran.ok:
            return self._failed(
                "build",
                f"docker build failed (exit {ran.returncode})",
                ran,
                "read the build log; the Dockerfile is " + self.config.image.dockerfile,
            )
        latest = argv.image_ref(self.config, "latest")
        tagged = self.run(["docker", "tag", self.image, latest], None)
        if not tagged.ok:
            return self._failed("build", "docker tag failed", tagged, "check the image name")
        image_id = self.run(["docker", "image", "inspect", "--format", "{{.Id}}", self.image], None)
        return StageResult(
            name="build",
            status="passed",
            message=f"built {self.image} ({image_id.output.strip()[:19]})",
            artifacts=[str(ran.log)],
        )

    def scan(self) -> StageResult:
        if self.scan_stage is None:
            raise GangwayError("no scan stage is wired into this runner")
        return self.scan_stage(self)

    def publish(self) -> StageResult:
        registry = self.config.registry
        if registry.username and registry.password is not None:
            login = self.run(
                ["docker", "login", "--username", registry.username, "--password-stdin",
                 registry.address],
                None,
                purpose=f"log in to {registry.address}",
                stdin=registry.password.get_secret_value(),
            )  # fmt: skip
            if not login.ok:
                return self._failed(
                    "publish",
                    f"docker login to {registry.address} failed",
                    login,
                    "check registry.username and the registry.password secret",
                )
        pushed: list[str] = []
        for tag, ref in zip(argv.publish_tags(self.version), self.road.publish_refs(), strict=True):
            if tag != self.version:
                self.run(["docker", "tag", self.image, ref], None)
            ran = self.run(["docker", "push", ref], f"publish-{tag}.log")
            if not ran.ok:
                return self._failed(
                    "publish",
                    f"docker push {ref} failed (exit {ran.returncode})",
                    ran,
                    f"is the registry at {registry.address} running and reachable from "
                    "this machine? (for a local one: docker-registry with http.addr "
                    f"{registry.address})",
                )
            pushed.append(ref)
        digests = self.run(
            ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", self.image], None
        )
        digest = _digest_for(digests.output, registry.address)
        return StageResult(
            name="publish",
            status="passed",
            message=f"pushed {', '.join(pushed)}" + (f" ({digest})" if digest else ""),
        )

    def deploy(self, environment: str) -> StageResult:
        name = deploy_stage(environment).name
        ran = self.run(self.road.deploy_argv(environment), None, stream=True)
        env = self.config.environment(environment)
        if not ran.ok:
            outcome = "rolled back or nothing live changed" if ran.returncode == 1 else ""
            return StageResult(
                name=name,
                status="failed",
                message=f"gangway deploy --env {environment} failed (exit {ran.returncode})"
                + (f": {outcome}" if outcome else ""),
                hint=f"read the deploy's lines above; `gangway status --env {environment}` "
                "shows what is live",
            )
        return StageResult(
            name=name,
            status="passed",
            message=f"{self.version} live on {environment} at {env.effective_url}",
        )

    def integration_test(self) -> StageResult:
        url = self.config.environments.staging.effective_url
        ran = self.run(self.road.integration_test_argv(url), "integration-test.log")
        counts = pytest_counts(ran.output)
        if not ran.ok:
            return self._failed(
                "integration-test",
                f"integration tests failed against {url}: {counts or f'exit {ran.returncode}'}",
                ran,
                "staging runs the new release, production was not touched; fix and run "
                "again, or `gangway rollback --env staging`",
            )
        return StageResult(
            name="integration-test",
            status="passed",
            message=f"{counts or 'passed'} against {url}",
            artifacts=[str(ran.log)],
        )

    def stages(self, through: StageName = "deploy-production") -> list[tuple[StageName, StageFn]]:
        """The core's road in order, up to and including `through`."""
        return bind(self, stages_through(through))


# The deploy stages run `gangway deploy`, which tells the webhooks itself.
_NOTIFIED_BY_DEPLOYER: frozenset[StageName] = frozenset({"deploy-staging", "deploy-production"})


def stopped_event(runner: LocalPipeline, report: PipelineReport, seconds: float) -> DeployEvent:
    """The `failed` event of a road that stopped at a stage other than a deploy."""
    stage = next(s for s in report.stages if s.name == report.failed_stage)
    toward = "production" if report.failed_stage == "deploy-production" else "staging"
    return DeployEvent(
        event="failed",
        action="pipeline",
        app=runner.config.app.name,
        environment=toward,
        version=runner.version,
        image=runner.image,
        actor=runner.environ.get("GANGWAY_ACTOR") or _user(),
        duration_seconds=round(seconds, 1),
        step=stage.name,
        reason=stage.message,
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def notify_stopped(runner: LocalPipeline, report: PipelineReport, seconds: float) -> None:
    """Tell the webhooks the road stopped (never raises; a deploy stage already told)."""
    if report.failed_stage is None or report.failed_stage in _NOTIFIED_BY_DEPLOYER:
        return
    if not runner.config.notifications.webhooks:
        return
    notifier = Notifier(
        runner.config.notifications, log=lambda line: print(line, file=runner.stream)
    )
    notifier.notify(stopped_event(runner, report, seconds))


def _digest_for(repo_digests_json: str, registry: str) -> str:
    try:
        digests = json.loads(repo_digests_json or "[]")
    except json.JSONDecodeError:
        return ""
    for entry in digests or []:
        if isinstance(entry, str) and entry.startswith(registry + "/") and "@" in entry:
            return entry.rsplit("@", 1)[1]
    return ""
