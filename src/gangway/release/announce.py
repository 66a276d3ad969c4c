"""The course of a deploy or rollback as notification events: started, then exactly one of
succeeded, failed or rolled_back.

`started` is sent once the deploy holds the lock (the deployer calls back); the end is
sent by `Announcement.watching`, around the whole command, from the history record the
deployer wrote or, for a deploy stopped before it wrote one (a missing secret, a held
lock), from the error. An automatic switch-back in the watch window and a successful
`gangway rollback` are both `rolled_back`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Final

from gangway.config.types import Event
from gangway.errors import CommandFailed, DeployFailed, FailedStep, LockHeld
from gangway.notify import DeployEvent, Notifier
from gangway.notify.payloads import Action
from gangway.release.deployer import Deployer
from gangway.release.state import ReleaseRecord

#: The step of a deploy whose failure sent traffic back to the previous release.
WATCH_STEP: Final[FailedStep] = "watch"


@dataclass
class Announcement:
    """Tells the notifier about one deploy or rollback of `deployer`."""

    notifier: Notifier
    deployer: Deployer
    action: Action
    version: str
    image: str = ""
    began: float = field(default_factory=time.monotonic)

    def event(self, kind: Event, **facts: Any) -> DeployEvent:
        event = DeployEvent(
            event=kind,
            action=self.action,
            app=self.deployer.config.app.name,
            environment=self.deployer.environment,
            version=self.version,
            image=self.image,
            actor=self.deployer.who,
            url=self.deployer.env.effective_url,
        )
        return replace(event, **facts)

    def started(self) -> None:
        self.notifier.notify(self.event("started"))

    def finished(self, record: ReleaseRecord) -> None:
        """The history record of a command that returned, or of one that failed after
        writing it."""
        if record.outcome == "succeeded":
            kind: Event = "rolled_back" if self.action == "rollback" else "succeeded"
        elif record.outcome == "interrupted":
            kind = "failed"  # the release may be live, unwatched: someone must look
        else:
            kind = record.outcome
        self.notifier.notify(
            self.event(
                kind,
                version=record.version,
                image=record.image,
                previous_version=record.previous_version,
                duration_seconds=record.duration_s,
                step=record.step,
                reason=record.reason,
            )
        )

    def failed(self, error: BaseException) -> None:
        step, reason = describe(error)
        kind: Event = "rolled_back" if step == WATCH_STEP and self.action == "deploy" else "failed"
        self.notifier.notify(
            self.event(
                kind,
                duration_seconds=time.monotonic() - self.began,
                step=step,
                reason=reason,
            )
        )

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Send the end of the command run in the block; `started` when the lock is taken."""
        self.deployer.on_start = self.started
        try:
            yield
        except BaseException as error:
            record = self.deployer.last_record
            if record is not None and record.outcome != "succeeded":
                self.finished(record)
            else:
                self.failed(error)
            raise
        record = self.deployer.last_record
        if record is not None:
            self.finished(record)


def describe(error: BaseException) -> tuple[str, str]:
    """The failing step and a one-line reason of an error that ended a deploy."""
    if isinstance(error, DeployFailed):
        return error.step, error.reason.splitlines()[0] if error.reason else ""
    if isinstance(error, LockHeld):
        return "lock", str(error)
    if isinstance(error, CommandFailed):
        return "docker", str(error).splitlines()[0]
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "the deployer was interrupted"
    return "unexpected", f"{type(error).__name__}: {error}"
