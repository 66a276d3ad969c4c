"""Database backups on the host: make one, list them, verify and restore one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from gangway.commands import database
from gangway.commands.database import DatabaseTarget
from gangway.commands.docker import Command
from gangway.errors import CommandFailed, DeployFailed
from gangway.execute import Executor
from gangway.progress import Progress
from gangway.release.images import image_unavailable, missing_image


@dataclass(frozen=True)
class Backup:
    """One pg_dump in the backup volume, with its checksum and what it was made for."""

    name: str
    size: int
    sha256: str
    created_at: str = ""
    environment: str = ""
    version: str = ""
    reason: str = ""

    def describe(self) -> str:
        return f"{self.name} ({_size(self.size)}, sha256 {self.sha256[:12]})"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def parse_backups(text: str) -> list[Backup]:
    """The lines `list_backups` prints, oldest first; unreadable metadata is left blank."""
    found: list[Backup] = []
    for line in text.splitlines():
        parts = line.split("\t", 3)
        if len(parts) < 3 or not parts[0]:
            continue
        name, size, sha = parts[0], parts[1].strip(), parts[2].strip()
        try:
            meta = json.loads(parts[3]) if len(parts) == 4 and parts[3].strip() else {}
        except ValueError:
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        found.append(
            Backup(
                name=name,
                size=int(size) if size.isdigit() else 0,
                sha256=sha,
                created_at=str(meta.get("created_at", "")),
                environment=str(meta.get("environment", "")),
                version=str(meta.get("version", "")),
                reason=str(meta.get("reason", "")),
            )
        )
    return found


def backup_commands(
    db: DatabaseTarget, environment: str, version: str, reason: str, retain: int
) -> list[Command]:
    """The backup volume (created if missing: `docker volume create` is idempotent), then
    the dump; its metadata goes on stdin, so the argv is the same in a plan and a run."""
    metadata = json.dumps(
        {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": environment,
            "version": version,
            "reason": reason,
        },
        sort_keys=True,
    )
    return [
        database.create_volume(db.target, db.backups, "backups"),
        database.backup(db, version, metadata, retain),
    ]


def backup_failed(exc: CommandFailed) -> DeployFailed:
    return DeployFailed(
        "backup",
        f"the database could not be backed up: {exc}",
        hint="nothing was migrated and nothing live changed; check that the database "
        "is up and that [database].image's pg_dump is at least the server's version",
    )


def parse_backup_output(out: str, environment: str, version: str, reason: str) -> Backup:
    """The Backup the dump's last line (`NAME SIZE SHA256`) describes."""
    name, size, sha = ([*(out.strip().splitlines() or [""])[-1].split(), "", "", ""])[:3]
    return Backup(
        name=name,
        size=int(size) if size.isdigit() else 0,
        sha256=sha,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        environment=environment,
        version=version,
        reason=reason,
    )


@dataclass
class Backups:
    """Runs the backup commands of one environment's database on its host."""

    db: DatabaseTarget
    executor: Executor
    progress: Progress
    environment: str
    retain: int
    timeout: float = 600.0

    def create(self, version: str, reason: str) -> Backup:
        """pg_dump to the backup volume with checksum and metadata; prune beyond retain."""
        steps = backup_commands(self.db, self.environment, version, reason, self.retain)
        try:
            with self.progress.step("backup", steps[-1].purpose, announce=True):
                for command in steps[:-1]:
                    self.executor.run(command)
                out = self.executor.run(steps[-1], timeout=self.timeout).stdout
        except CommandFailed as exc:
            raise self._missing_image(exc) or backup_failed(exc) from exc
        made = parse_backup_output(out, self.environment, version, reason)
        self.progress.say(
            f"backup: {made.describe()} in volume {self.db.backups} "
            f"(keeping the newest {self.retain})"
        )
        return made

    def _missing_image(self, exc: CommandFailed) -> DeployFailed | None:
        """database.image is not on the host and could not be pulled (None: another cause)."""
        said = image_unavailable(exc.stderr) if self.db.image in exc.argv else ""
        if not said:
            return None
        return missing_image(
            "database.image", self.db.image, said, pull=self.db.pull_policy,
            environment=self.environment, step="backup",
        )  # fmt: skip

    def list(self) -> list[Backup]:
        """The backups in the volume, oldest first (none when the volume does not exist)."""
        if not self.executor.run(database.inspect_volume(self.db.backups), check=False).ok:
            return []
        try:
            return parse_backups(self.executor.run(database.list_backups(self.db)).stdout)
        except CommandFailed as exc:
            raise self._missing_image(exc) or exc from exc

    def restore(self, name: str | None = None) -> Backup:
        """Verify the checksum of `name` (default: the newest), then restore it."""
        available = self.list()
        if not available:
            raise DeployFailed(
                "restore",
                f"there are no backups in volume {self.db.backups}",
                hint="a backup is made before each release that brings migrations",
            )
        if name is None:
            chosen = available[-1]
        else:
            matches = [b for b in available if b.name == name.removesuffix(".dump")]
            if not matches:
                listed = ", ".join(b.name for b in available[-5:])
                raise DeployFailed(
                    "restore",
                    f"no backup {name!r} in volume {self.db.backups}",
                    hint=f"the newest: {listed}; list them all with "
                    f"`gangway db backups --env {self.environment}`",
                )
            chosen = matches[0]
        verify = database.verify_backup(self.db, chosen.name)
        with self.progress.step("restore", verify.purpose):
            result = self.executor.run(verify, check=False, timeout=self.timeout)
        if not result.ok:
            missing = self._missing_image(
                CommandFailed(verify.argv, result.returncode, result.stdout, result.stderr)
            )
            if missing is not None:
                raise missing
            detail = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            raise DeployFailed(
                "restore",
                detail,
                hint="the database was not touched; restore another backup by name",
            )
        command = database.restore(self.db, chosen.name)
        try:
            with self.progress.step("restore", command.purpose, announce=True):
                self.executor.run(command, timeout=self.timeout)
        except CommandFailed as exc:
            if missing := self._missing_image(exc):
                raise missing from exc
            raise DeployFailed(
                "restore",
                f"pg_restore failed: {exc}",
                hint="it ran in one transaction: the database is as it was before the restore",
            ) from exc
        self.progress.say(f"restore: the database is back at {chosen.describe()}")
        return chosen
