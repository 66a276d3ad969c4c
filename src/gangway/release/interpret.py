"""Runs a plan step by step, and handles a failure by the phase it happens in.

    prepare, prove, switch   nothing live changed: undo the completed steps (the routes
                             put back, the new color stopped), record `failed`
    watch                    traffic back to the old color at once (it never stopped),
                             the new one stopped, record `rolled_back`
    retire                   a warning: the new release is live
    interrupt (Ctrl-C, SIGTERM)
                             before the switch: as a failure; in the watch: the watch
                             ends, the new release stays live with the previous color
                             still running (a rollback away), record `interrupted`; in
                             retire: the retire is finished first

The plan's `finish` steps (the image id, the history record) run whatever happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from gangway.commands.docker import Command
from gangway.errors import CommandFailed, DeployFailed, FailedStep, PendingUnreadable
from gangway.execute import Executor
from gangway.masking import redact
from gangway.progress import Progress
from gangway.release.backups import Backup, Backups, backup_failed, parse_backup_output
from gangway.release.images import image_named, image_unavailable, missing_image
from gangway.release.migrations import (
    EXPAND_CONTRACT,
    PendingReport,
    destructive_findings,
    parse_pending,
)
from gangway.release.plan import BEFORE_THE_SWITCH, Check, Plan, Record, Run, Step, Wait
from gangway.release.probes import Pollers
from gangway.release.state import Outcome, ReleaseRecord


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Context:
    """Who runs the plan, and what the record says about the environment."""

    environment: str
    who: str
    host: str
    transactional: bool
    pull: str
    command_timeout: float


@dataclass
class _Run:
    """What one interpretation has learned so far."""

    version: str = ""
    color: str = ""
    completed: list[Run] = field(default_factory=list)
    report: PendingReport | None = None
    backup: Backup | None = None
    image_id: str = ""
    # The plan's images by the key that names them (what a missing image is called).
    images: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Interpreter:
    """Executes plans on the environment's engine; the waits go to `pollers`."""

    executor: Executor
    pollers: Pollers
    progress: Progress
    context: Context
    backups: Backups
    # The record the last plan appended to the history (read by notifications).
    last_record: ReleaseRecord | None = None

    def execute(self, plan: Plan, *, started: float, started_at: str) -> ReleaseRecord | None:
        """Run `plan`; return its history record (None for plans that record nothing).
        Raises DeployFailed after recording a failure; KeyboardInterrupt after recording
        an interrupted release."""
        release = plan.release
        run = _Run(
            version=release.version if release else "",
            color=release.color if release else "",
            images=plan.images,
        )
        error: BaseException | None = None
        outcome: Outcome = "succeeded"
        failed_at: Step | None = None
        watch_ended = False
        for step in plan.steps:
            if watch_ended and step.phase in ("watch", "retire"):
                continue  # interrupted in the watch: the old color stays as it is
            try:
                self._step(step, run)
            except KeyboardInterrupt as exc:
                error, failed_at = exc, step
                if step.phase in BEFORE_THE_SWITCH:
                    self.progress.say(f"interrupted in {step.phase}: backing out")
                    self._undo(run.completed)
                    outcome = "failed"
                    break
                if step.phase == "watch":
                    self.progress.say(
                        "interrupted in the watch: the new release stays live, the previous "
                        "color keeps running (gangway rollback goes back to it at once)"
                    )
                    outcome = "interrupted"
                    watch_ended = True
                    continue
                self.progress.say("interrupted in retire: finishing the retire first")
                outcome = "interrupted"
                continue
            except (DeployFailed, CommandFailed) as exc:
                failure = self._as_failure(step, exc, run)
                error, failed_at = failure, step
                if step.phase in BEFORE_THE_SWITCH:
                    live = plan.previous.split()[0] if plan.previous else "nothing"
                    self.progress.say(f"back out: live stays on {live}")
                    self._undo(run.completed)
                    outcome = "failed"
                    break
                if step.phase == "watch":
                    self.progress.say(f"watch: going back to {plan.previous.split()[0]} at once")
                    self._undo(run.completed)
                    outcome = "rolled_back"
                    break
                self.progress.say(f"retire: warning: {failure} (the new release is live)")
                error, failed_at = None, None
        record = self._finish(plan, run, outcome, failed_at, error, started, started_at)
        if isinstance(error, KeyboardInterrupt):
            raise error
        if error is not None:
            assert isinstance(error, DeployFailed)
            raise error
        return record

    # -- steps -----------------------------------------------------------------------------

    def _label(self, step: Step) -> str:
        return step.step if step.phase == "prepare" else step.phase

    def _step(self, step: Step, run: _Run) -> None:
        if isinstance(step, Run):
            self._command(step, run)
            run.completed.append(step)
            if step.phase == "switch" and run.color:
                self.progress.say(f"switch: {run.color} ({run.version}) is live")
        elif isinstance(step, Wait):
            with self.progress.step(self._label(step), step.describe()[len("# wait ") :],
                                    announce=True):  # fmt: skip
                self.pollers.wait(step)
        elif isinstance(step, Check):
            self._check(step, run)
        else:
            raise AssertionError("records run in the plan's finish")

    def _command(self, step: Run, run: _Run) -> str:
        announce = step.step in ("backup", "migrate") and _is_migration(step.command)
        try:
            with self.progress.step(self._label(step), step.command.purpose, announce=announce):
                result = self.executor.run(
                    step.command, check=step.check, timeout=self.context.command_timeout
                )
        except CommandFailed as exc:
            if missing := self._missing_image(exc, run):
                raise missing from exc
            if step.step == "backup":
                raise backup_failed(exc) from exc
            if step.step == "migrate" and _is_migration(step.command):
                raise self._migration_failed(exc, run.backup) from exc
            raise
        if step.step == "backup" and step.command.stdin is not None and result.ok:
            run.backup = parse_backup_output(
                result.stdout, self.context.environment, run.version, step.command.purpose
            )
            self.progress.say(
                f"backup: {run.backup.describe()} in volume {self.backups.db.backups} "
                f"(keeping the newest {self.backups.retain})"
            )
        return result.stdout

    def _check(self, step: Check, run: _Run) -> None:
        if step.kind == "destructive_guard":
            assert run.report is not None
            self._guard(run.report, allow=step.allow)
            return
        *setup, listing = step.commands
        try:
            for command in setup:
                self.executor.run(command, timeout=self.context.command_timeout)
            with self.progress.step("migrate", listing.purpose):
                out = self.executor.run(listing, timeout=self.context.command_timeout).stdout
            run.report = parse_pending(out)
        except (CommandFailed, PendingUnreadable) as exc:
            if isinstance(exc, CommandFailed) and (missing := self._missing_image(exc, run)):
                raise missing from exc
            raise DeployFailed(
                "migrate",
                f"could not list the pending migrations of {run.version}: {exc}",
                hint="nothing was changed; fix migrations.pending, or set it to [] to back "
                "up and migrate on every deploy",
            ) from exc
        report = run.report
        if not report.pending:
            at = ", ".join(report.current) or "an empty schema"
            self.progress.say(
                f"migrate: {run.version} brings no new migration (database at {at}); "
                "no backup needed"
            )
            return
        self.progress.say(
            f"migrate: {len(report.pending)} pending: "
            + ", ".join(m.revision + (f" ({m.description})" if m.description else "")
                        for m in report.pending)
        )  # fmt: skip
        for inner in step.then:
            self._step(inner, run)

    def _guard(self, report: PendingReport, *, allow: bool) -> None:
        """Refuse drops and renames in pending migrations unless allowed (expand/contract)."""
        findings = destructive_findings(report.pending)
        if not findings:
            return
        listed = "; ".join(finding.describe() for finding in findings)
        if allow:
            self.progress.say(f"migrate: warning: destructive, allowed: {listed}")
            return
        raise DeployFailed(
            "guard",
            f"pending migrations drop or rename what the live release uses: {listed}",
            hint=f"refused before anything changed: {EXPAND_CONTRACT}",
        )

    # -- failures ----------------------------------------------------------------------------

    def _missing_image(self, exc: CommandFailed, run: _Run) -> DeployFailed | None:
        """A command that failed because an image of the plan is not on the host and could
        not be pulled, said with the key that names the image and how to get it."""
        said = image_unavailable(exc.stderr)
        named = image_named(exc.argv, run.images) if said else None
        if named is None:
            return None
        key, image = named
        return missing_image(
            key, image, said, pull=self.context.pull, environment=self.context.environment
        )

    def _as_failure(self, step: Step, exc: DeployFailed | CommandFailed, run: _Run) -> DeployFailed:
        if isinstance(exc, DeployFailed):
            return exc
        missing = self._missing_image(exc, run)
        if missing is not None:
            return missing
        name: FailedStep = step.step
        return DeployFailed(
            name, str(exc), hint="nothing live changed; fix the cause and deploy again"
        )

    def _migration_failed(self, exc: CommandFailed, backup: Backup | None) -> DeployFailed:
        detail = (exc.stderr.strip() or exc.stdout.strip()).splitlines()
        # The command's own last line says what broke ("error: migration failed: ...").
        reason = detail[-1].removeprefix("error: ") if detail else f"the migration failed: {exc}"
        live = "nothing switched: the live color keeps serving"
        made = f" (backup {backup.name} was made before it)" if backup else ""
        if self.context.transactional or backup is None:
            return DeployFailed(
                "migrate",
                reason,
                hint=f"{live}; the migration ran in one transaction, so the database is "
                f"unchanged{made}",
            )
        self.progress.say(f"migrate: not transactional: restoring {backup.name}")
        try:
            self.backups.restore(backup.name)
        except DeployFailed as restore_failed:
            return DeployFailed(
                "migrate",
                f"{reason}; and restoring {backup.name} failed: {restore_failed.reason}",
                hint=f"{live} on a partly migrated database: restore it with `gangway db "
                f"restore --env {self.context.environment} {backup.name}`",
            )
        return DeployFailed(
            "migrate", reason, hint=f"{live}; the database was restored from {backup.name}"
        )

    def _undo(self, completed: Sequence[Run]) -> None:
        """Undo the completed steps, latest first; of undos with the same key (the
        routes, the new color) only the latest one's runs."""
        seen: set[str] = set()
        for step in reversed(completed):
            if not step.undo or step.undo_key is None or step.undo_key in seen:
                continue
            seen.add(step.undo_key)
            for undo in step.undo:
                try:
                    if isinstance(undo, Wait):
                        with self.progress.step("back out", undo.describe()[len("# wait ") :]):
                            self.pollers.wait(undo)
                        continue
                    with self.progress.step("back out", undo.command.purpose):
                        self.executor.run(undo.command, check=undo.check,
                                          timeout=self.context.command_timeout)  # fmt: skip
                except (CommandFailed, DeployFailed) as exc:
                    self.progress.say(f"back out: warning: {exc}")

    # -- the record ----------------------------------------------------------------------------

    def _finish(
        self,
        plan: Plan,
        run: _Run,
        outcome: Outcome,
        failed_at: Step | None,
        error: BaseException | None,
        started: float,
        started_at: str,
    ) -> ReleaseRecord | None:
        release = plan.release
        if release is None or plan.action == "maintenance":
            return None
        image_id = ""
        record_step: Record | None = None
        for step in plan.finish:
            if isinstance(step, Record):
                record_step = step
            elif isinstance(step, Run):
                result = self.executor.run(step.command, check=False)
                image_id = _image_id(result.stdout) if result.ok else ""
        step_name = ""
        reason = ""
        if isinstance(error, DeployFailed):
            step_name, reason = error.step, error.reason.splitlines()[0] if error.reason else ""
        elif isinstance(error, KeyboardInterrupt):
            step_name = "interrupted"
            reason = f"interrupted in {failed_at.phase}" if failed_at else "interrupted"
        record = ReleaseRecord(
            action="rollback" if plan.action == "rollback" else "deploy",
            version=release.version,
            image=release.image,
            image_id=image_id,
            color=release.color,
            outcome=outcome,
            who=self.context.who,
            host=self.context.host,
            started_at=started_at,
            duration_s=round(time.monotonic() - started, 3),
            previous_version=plan.previous.split()[-1] if plan.previous else "",
            step=step_name,
            reason=redact(reason),
            pulled=plan.pulls_image,
        )
        if record_step is not None:
            self.append(record_step.command, record)
        self.last_record = record
        return record

    def append(self, template: Command, record: ReleaseRecord) -> None:
        """Append `record` to the history with the plan's command (its stdin filled)."""
        try:
            self.executor.run(replace(template, stdin=record.to_json() + "\n"))
        except CommandFailed as exc:
            self.progress.say(f"history: warning: could not record the release: {exc}")


def _is_migration(command: Command) -> bool:
    """The command of a one-off task (a migration, a dump) that does its work, not its
    set-up: the long ones, announced when they begin."""
    return command.argv[1:3] in (("start", "--attach"), ("run", "--rm"))


def _image_id(inspect: str) -> str:
    try:
        data = json.loads(inspect)
    except ValueError:
        return ""
    return str(data[0].get("Id", "")) if isinstance(data, list) and data else ""
