"""docker CLI argv for the database: the PostgreSQL accessory, backups and restores.

The accessory's password is made on the host, in a volume only the database, the app
and the backup containers mount; it never passes through gangway, an argv or a log.
Backups and restores run in one-off containers of the database image (pg_dump,
pg_restore and sha256sum inside) on the environment's network.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import KW_ONLY, dataclass
from typing import Final

from gangway.commands.docker import Command, Target, _label_args

SECRETS_DIR: Final = "/run/secrets/gangway-db"
URL_FILE: Final = f"{SECRETS_DIR}/database_url"
PASSWORD_FILE: Final = f"{SECRETS_DIR}/password"
BACKUP_DIR: Final = "/backups"
DATA_DIR: Final = "/var/lib/postgresql/data"
PORT: Final = 5432
# A missing backup and a damaged one exit with these, so the caller can say which.
EXIT_NO_BACKUP: Final = 66
EXIT_BAD_CHECKSUM: Final = 65


@dataclass(frozen=True)
class DatabaseTarget:
    """The database of one environment: an accessory gangway runs, or an external
    server whose URL is the `DATABASE_URL` secret of the deployer's environment."""

    target: Target
    image: str
    accessory: bool
    backup_volume: str = ""
    _: KW_ONLY
    # The environment's `pull`: the accessory and every backup container follow it.
    pull_policy: str

    @property
    def container(self) -> str:
        return f"{self.target.prefix}-db"

    @property
    def data_volume(self) -> str:
        return f"{self.target.prefix}-db-data"

    @property
    def secrets_volume(self) -> str:
        return f"{self.target.prefix}-db-secrets"

    @property
    def backups(self) -> str:
        return self.backup_volume or f"{self.target.prefix}-backups"

    @property
    def user(self) -> str:
        """Role and database name of the accessory: the app name as an identifier."""
        return self.target.app.replace("-", "_")

    def credentials(self) -> tuple[str, ...]:
        """How a one-off container learns the URL: the accessory's file (mounted
        read-only), or `DATABASE_URL` copied by name from the deployer's environment."""
        if self.accessory:
            return ("--volume", f"{self.secrets_volume}:{SECRETS_DIR}:ro")
        return ("--env", "DATABASE_URL")


def backup_name(stamp: str, version: str) -> str:
    """`20250301T100000Z-v2`: sorts by time; the version made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", version)[:64] or "unknown"
    return f"{stamp}-{safe}"


def _url_script() -> str:
    # libpq takes postgresql:// URLs; SQLAlchemy-style `postgresql+psycopg://` too here.
    return (
        f'url="${{DATABASE_URL:-}}"; [ -n "$url" ] || url=$(cat {URL_FILE}); '
        "url=$(printf %s \"$url\" | sed -E 's#^postgres(ql)?(\\+[a-z0-9]+)?://#postgresql://#')"
    )


def create_volume(target: Target, name: str, role: str) -> Command:
    return Command(
        ("docker", "volume", "create", *_label_args(target.labels(role)), name),
        f"create volume {name}",
    )


def inspect_volume(name: str) -> Command:
    return Command(
        ("docker", "volume", "inspect", "--format", "{{.Name}}", name),
        f"look for volume {name}",
        query=True,
    )


def make_secrets(db: DatabaseTarget) -> Command:
    """Generate the accessory's password once (kept if present) and the app's URL."""
    url = f"postgresql://{db.user}:%s@{db.container}:{PORT}/{db.user}"
    script = (
        f"set -eu; cd {SECRETS_DIR}; umask 022; "
        "if [ ! -s password ]; then "
        "od -An -tx1 -N24 /dev/urandom | tr -d ' \\n' > password.tmp && mv password.tmp password; "
        "fi; "
        f'printf {shlex.quote(url)} "$(cat password)" > database_url.tmp && '
        "mv database_url.tmp database_url"
    )
    return Command(
        ("docker", "run", "--rm", f"--pull={db.pull_policy}", "--network=none",
         "--volume", f"{db.secrets_volume}:{SECRETS_DIR}", "--entrypoint", "sh",
         db.image, "-c", script),
        f"generate the database password in {db.secrets_volume} (kept on the host)",
    )  # fmt: skip


def run_database(db: DatabaseTarget) -> Command:
    """The accessory: PostgreSQL on the environment's network, data in a named volume."""
    # SIGINT is PostgreSQL's fast shutdown; docker import'ed images cannot declare it.
    return Command(
        ("docker", "run", "--detach", f"--pull={db.pull_policy}", "--name", db.container,
         "--network", db.target.network, "--restart", "unless-stopped",
         "--stop-signal", "SIGINT",
         *_label_args(db.target.labels("db", image=db.image)),
         "--volume", f"{db.data_volume}:{DATA_DIR}",
         "--volume", f"{db.secrets_volume}:{SECRETS_DIR}:ro",
         "--env", f"POSTGRES_USER={db.user}", "--env", f"POSTGRES_DB={db.user}",
         "--env", f"POSTGRES_PASSWORD_FILE={PASSWORD_FILE}",
         db.image),
        f"start the database {db.container}",
    )  # fmt: skip


def database_ready(db: DatabaseTarget) -> Command:
    return Command(
        ("docker", "exec", db.container, "pg_isready", "--host=127.0.0.1",
         f"--username={db.user}", f"--dbname={db.user}"),
        f"ask {db.container} whether it accepts connections",
        query=True,
    )  # fmt: skip


def _one_off(db: DatabaseTarget, *, network: str, backups_mode: str = "") -> tuple[str, ...]:
    return (
        "docker", "run", "--rm", f"--pull={db.pull_policy}", "--network", network,
        *_label_args(db.target.labels("task")),
        "--volume", f"{db.backups}:{BACKUP_DIR}{backups_mode}",
        "--entrypoint", "sh",
    )  # fmt: skip


def backup(db: DatabaseTarget, version: str, metadata: str, retain: int) -> Command:
    """pg_dump (custom format) into the backup volume, its sha256 and the metadata
    (read on stdin) next to it; then only the newest `retain` backups are kept.
    The name is the time the dump starts, stamped on the host of the database
    (`backup_name`), so the command is the same in a plan and in the deploy that runs
    it. Prints `NAME SIZE SHA256`. A dump that fails leaves no partial file behind."""
    label = shlex.quote(backup_name("", version).removeprefix("-"))
    script = (
        f"set -eu; {_url_script()}; cd {BACKUP_DIR}; "
        f'name="$(date -u +%Y%m%dT%H%M%SZ)-"{label}; '
        'trap \'rm -f "$name.dump.tmp" "$name.json.tmp"\' EXIT; '
        'cat > "$name.json.tmp"; '
        'pg_dump --format=custom --file="$name.dump.tmp" --dbname="$url"; '
        'mv "$name.dump.tmp" "$name.dump"; '
        'sha256sum "$name.dump" > "$name.dump.sha256"; '
        'mv "$name.json.tmp" "$name.json"; '
        f"for old in $(ls -1 | grep '\\.dump$' | sort -r | tail -n +{retain + 1}); do "
        'rm -f "$old" "$old.sha256" "${old%.dump}.json"; done; '
        'printf \'%s %s %s\\n\' "$name" "$(wc -c < "$name.dump")" '
        '"$(cut -d " " -f 1 "$name.dump.sha256")"'
    )
    return Command(
        (*_one_off(db, network=db.target.network), "--interactive", *db.credentials(),
         db.image, "-c", script),
        f"back up the database to {db.backups} (before {version})",
        stdin=metadata,
    )  # fmt: skip


def list_backups(db: DatabaseTarget) -> Command:
    """One line per backup, oldest first: `NAME<TAB>SIZE<TAB>SHA256<TAB>METADATA-JSON`."""
    script = (
        f"cd {BACKUP_DIR} || exit 0; "
        "for f in $(ls -1 | grep '\\.dump$' | sort); do b=${f%.dump}; "
        'printf \'%s\\t%s\\t%s\\t\' "$b" "$(wc -c < "$f")" '
        '"$(cut -d " " -f 1 "$f.sha256" 2>/dev/null)"; '
        'tr -d "\\n" < "$b.json" 2>/dev/null; echo; done'
    )
    return Command(
        (*_one_off(db, network="none", backups_mode=":ro"), db.image, "-c", script),
        f"list the backups in {db.backups}",
        query=True,
    )


def verify_backup(db: DatabaseTarget, name: str) -> Command:
    """Check the dump against its sha256 file: exit 66 if missing, 65 if damaged."""
    script = (
        f"cd {BACKUP_DIR}; name={shlex.quote(name)}; "
        f'[ -f "$name.dump" ] || {{ echo "no backup $name in {db.backups}" >&2; '
        f"exit {EXIT_NO_BACKUP}; }}; "
        '[ -f "$name.dump.sha256" ] || { echo "backup $name has no checksum file" >&2; '
        f"exit {EXIT_BAD_CHECKSUM}; }}; "
        'sha256sum -c "$name.dump.sha256" > /dev/null 2>&1 || '
        '{ echo "backup $name does not match its checksum: the file is damaged" >&2; '
        f"exit {EXIT_BAD_CHECKSUM}; }}; "
        'cut -d " " -f 1 "$name.dump.sha256"'
    )
    return Command(
        (*_one_off(db, network="none", backups_mode=":ro"), db.image, "-c", script),
        f"verify the checksum of {name}",
        query=True,
    )


def restore(db: DatabaseTarget, name: str) -> Command:
    """Put the dump back in one transaction, so a restore that fails leaves the database
    as it was. An accessory's schema `public` is replaced whole (gangway owns that
    database): tables a failed migration created are gone too. An external database gets
    `pg_restore --clean --if-exists`: only the dump's own objects are dropped and remade."""
    dump = shlex.quote(name + ".dump")
    if db.accessory:
        apply = (
            f"pg_restore --no-owner --no-privileges --file=/tmp/restore.sql {dump}; "
            'psql -X -q --single-transaction -v ON_ERROR_STOP=1 --dbname="$url" '
            "-c 'SET client_min_messages = warning' -c 'DROP SCHEMA IF EXISTS public CASCADE' "
            "-c 'CREATE SCHEMA public' -f /tmp/restore.sql > /dev/null"
        )
    else:
        apply = (
            "pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction "
            f'--exit-on-error --dbname="$url" {dump}'
        )
    script = f"set -eu; {_url_script()}; cd {BACKUP_DIR}; {apply}"
    return Command(
        (*_one_off(db, network=db.target.network, backups_mode=":ro"), *db.credentials(),
         db.image, "-c", script),
        f"restore {name} into the database (one transaction)",
    )  # fmt: skip
