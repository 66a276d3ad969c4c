"""A fake Docker host for the deployer: answers its commands from a little state machine.

It understands exactly the argv `gangway.commands.docker` builds, keeps containers,
the network and the files of the state volume, and fails loudly on anything else, so a
new command in the deployer shows up here instead of being answered blindly.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shlex
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gangway.commands import docker
from gangway.commands.docker import Command, Target
from gangway.execute import RecordingExecutor, Result
from gangway.release.state import ReleaseRecord, RoutingState

OK = Result(0, "", "")
IMAGE_ID = "sha256:" + "ab" * 32
TARGET = Target("notes", "production")


def _labels(argv: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for flag, value in itertools.pairwise(argv):
        if flag == "--label":
            key, _, text = value.partition("=")
            labels[key] = text
    return labels


def _after(argv: tuple[str, ...], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@dataclass
class FakeHost:
    """Containers (by name), the network, the state volume's files and canned answers."""

    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    network: bool = False
    files: dict[str, str] = field(default_factory=dict)
    # Docker health the `container_state` query reports, per container (default healthy).
    health: dict[str, str] = field(default_factory=dict)
    # Commands (by argv head) made to fail: prefix tuple -> result.
    failures: dict[tuple[str, ...], Result] = field(default_factory=dict)
    images: set[str] = field(default_factory=set)
    # The HEALTHCHECK `docker image inspect` reports per image (its Test; None: the image
    # has none). Images not named here have one, like the sample app's.
    healthchecks: dict[str, list[str] | None] = field(default_factory=dict)
    # Images neither on the host nor pullable: a `docker run`/`create` of one fails as
    # docker does.
    unpullable: set[str] = field(default_factory=set)
    # The router's TCP table the drain reads, given the color's status log path.
    in_flight: Callable[[str], str] = field(default=lambda _log: "")
    # What the router's status logs read during the watch: path -> one status per line.
    served: dict[str, str] = field(default_factory=dict)
    reloads: int = 0
    # Files `docker cp` put into containers: container name -> {path: content}.
    copied: dict[str, dict[str, str]] = field(default_factory=dict)
    # One-off tasks run to completion with `docker start --attach`, by name.
    tasks_run: list[str] = field(default_factory=list)
    # The argv each container was created with, by name.
    created: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What `migrations.pending` prints: the revisions the new image would apply.
    pending: list[dict[str, str]] = field(default_factory=list)
    # How the migration one-off exits, and how many ran.
    migration: Result = OK
    migrations_run: int = 0
    volumes: set[str] = field(default_factory=set)
    # Backups in the backup volume: name -> metadata JSON; and the ones restored.
    backups: dict[str, str] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)

    # -- building a host ---------------------------------------------------------------

    def add(self, name: str, labels: dict[str, str], *, running: bool = True) -> None:
        self.containers[name] = {
            "Name": "/" + name,
            "Image": IMAGE_ID,
            "State": {
                "Status": "running" if running else "exited",
                "Running": running,
                "ExitCode": 0,
            },
            "RestartCount": 0,
            "Config": {"Labels": labels},
        }

    def add_app(self, color: docker.Color, version: str, *, running: bool = True) -> None:
        image = f"127.0.0.1:5000/notes:{version}"
        labels = TARGET.labels("app", color=color, version=version, image=image)
        self.add(TARGET.container(color), labels, running=running)
        self.images.add(image)

    def bootstrapped(self, live: docker.Color | None = None) -> FakeHost:
        """A host with network, router and proxy running and `live` recorded in state.json."""
        self.network = True
        self.add(TARGET.router, TARGET.labels("router"))
        self.add(TARGET.proxy, TARGET.labels("proxy"))
        self.files[docker.STATE_FILE] = RoutingState(live=live).to_json()
        return self

    def add_history(self, *records: ReleaseRecord) -> None:
        text = "".join(record.to_json() + "\n" for record in records)
        self.files[docker.HISTORY_FILE] = self.files.get(docker.HISTORY_FILE, "") + text

    def executor(self) -> RecordingExecutor:
        return RecordingExecutor(respond=self.respond)

    # -- reading it back ----------------------------------------------------------------

    def running(self, name: str) -> bool:
        return name in self.containers and bool(self.containers[name]["State"]["Running"])

    def history(self) -> list[dict[str, Any]]:
        text = self.files.get(docker.HISTORY_FILE, "")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    # -- answering -----------------------------------------------------------------------

    def respond(self, command: Command) -> Result:
        argv = command.argv
        for prefix, result in self.failures.items():
            if argv[: len(prefix)] == prefix:
                return result
        assert argv[0] == "docker", argv
        verb = argv[1:3]
        if verb == ("ps", "--all"):
            return Result(0, "".join(f"{name}\n" for name in self.containers), "")
        if verb == ("container", "inspect"):
            return self._inspect(argv)
        if verb == ("network", "inspect"):
            return Result(0, TARGET.network + "\n", "") if self.network else _no_such("network")
        if verb == ("network", "create"):
            self.network = True
            return OK
        if verb == ("volume", "create"):
            self.volumes.add(argv[-1])
            return OK
        if verb == ("volume", "inspect"):
            return OK if argv[-1] in self.volumes else _no_such("volume", argv[-1])
        if verb == ("image", "inspect"):
            ref = argv[3]
            if ref in self.images:
                test = self.healthchecks.get(ref, ["CMD", "app", "healthcheck"])
                config = {} if test is None else {"Healthcheck": {"Test": test}}
                found = {"Id": IMAGE_ID, "RepoTags": [ref], "Config": config}
                return Result(0, json.dumps([found]), "")
            return Result(1, "[]\n", f"Error response from daemon: No such image: {ref}")
        if verb[0] == "image" and verb[1] == "rm":
            self.images.discard(argv[3])
            return OK
        if argv[1] in ("run", "create"):
            missing = next((image for image in self.unpullable if image in argv), None)
            if missing is not None:
                return Result(
                    125,
                    "",
                    f"Unable to find image '{missing}' locally\ndocker: Error response from "
                    f"daemon: pull access denied for {missing.split(':')[0]}, repository does "
                    "not exist or may require 'docker login'.\nSee 'docker run --help'.",
                )
        if argv[1] == "run":
            return self._run(argv, command.stdin)
        if argv[1] == "create":
            return self._create(argv)
        if argv[1:3] == ("start", "--attach"):
            name = argv[3]
            assert name in self.containers, f"start --attach of unknown {name}"
            self.tasks_run.append(name)
            self.containers.pop(name)  # created with --rm: gone once it exits
            if "--pending" in self.created.get(name, ()):
                return Result(0, json.dumps({"current": [], "pending": self.pending}), "")
            self.migrations_run += 1
            return self.migration
        if argv[1] == "start":
            self.containers[argv[2]]["State"].update(Running=True, Status="running")
            return OK
        if argv[1] == "cp":
            return self._copy(argv, command.secret_stdin)
        if argv[1] == "stop":
            name = argv[-1]
            if name not in self.containers:
                return _no_such("container", name)
            self.containers[name]["State"].update(Running=False, Status="exited")
            return OK
        if argv[1] == "rm":
            self.containers.pop(argv[-1], None)
            return OK
        if argv[1] == "kill":
            assert argv[2:4] == ("--signal", "HUP"), argv
            self.reloads += 1
            return OK
        if argv[1] == "logs":
            return Result(0, "booting\nlistening on :8000\n", "")
        if argv[1] == "exec":
            return self._exec(argv, command.stdin)
        raise AssertionError(f"the fake host does not know {shlex.join(argv)}")

    def address(self, name: str) -> str:
        """The container's address on the environment's network (stable per name)."""
        return f"172.18.0.{list(self.containers).index(name) + 2}"

    def _inspect(self, argv: tuple[str, ...]) -> Result:
        if argv[3] == "--format":
            name = argv[5]
            if name not in self.containers:
                return _no_such("container", name)
            if "IPAddress" in argv[4]:
                running = self.containers[name]["State"]["Running"]
                return Result(0, (self.address(name) + " " if running else "") + "\n", "")
            state = dict(self.containers[name]["State"])
            state["Health"] = {"Status": self.health.get(name, "healthy")}
            report = {"state": state, "restarts": self.containers[name]["RestartCount"]}
            return Result(0, json.dumps(report), "")
        names = argv[3:]
        found = [self.containers[name] for name in names if name in self.containers]
        if len(found) < len(names):
            return Result(1, json.dumps(found), "Error: No such container: " + names[-1])
        return Result(0, json.dumps(found), "")

    def _run(self, argv: tuple[str, ...], stdin: str | None) -> Result:
        if "--rm" in argv:
            if "--entrypoint" in argv and _after(argv, "--entrypoint") == "sh":
                return self._shell_task(argv[-1], stdin)
            if "--pending" in argv:
                return Result(0, json.dumps({"current": [], "pending": self.pending}), "")
            self.migrations_run += 1
            return self.migration  # the migration one-off
        name = _after(argv, "--name")
        if name in self.containers:
            return Result(
                125,
                "",
                f'docker: Error response from daemon: Conflict. The container name "/{name}" '
                'is already in use by container "5f0c".',
            )
        labels = _labels(argv)
        self.add(name, labels)
        if labels.get(f"{docker.LABEL}.role") == "app":
            self.images.add(labels[f"{docker.LABEL}.image"])  # pulled, if it was not there
        return Result(0, "5f0c" * 16 + "\n", "")

    def _shell_task(self, script: str, stdin: str | None) -> Result:
        """The one-off `sh -c` containers: seed a file, make the database's password,
        back up, list, verify and restore backups."""
        if "else cat > " in script:  # seed a file, only when absent like the real script
            assert stdin is not None
            path = re.findall(r"else cat > (\S+);", script)[0]
            if not self.files.get(path):
                self.files[path] = stdin
            return OK
        if "od -An" in script:  # make_secrets
            return OK
        if "pg_dump" in script:
            assert stdin is not None
            # The dump is named on the database's host: its clock, then the version.
            label = re.findall(r'name="\$\(date -u \+%Y%m%dT%H%M%SZ\)-"(\S+);', script)[0]
            name = f"2025030{len(self.backups) + 1}T100000Z-{shlex.split(label)[0]}"
            self.backups[name] = stdin
            return Result(0, f"{name} 2048 {'cd' * 32}\n", "")
        name = (re.findall(r"name=(\S+);", script) or [""])[0]
        if "sha256sum -c" in script:
            return OK if name in self.backups else Result(66, "", f"no backup {name}")
        if "pg_restore" in script:
            self.restored.append(re.findall(r"(\S+)\.dump\b", script)[0])
            return OK
        if "ls -1" in script:  # list_backups
            lines = [
                f"{n}\t2048\t{'cd' * 32}\t{meta}\n" for n, meta in sorted(self.backups.items())
            ]
            return Result(0, "".join(lines), "")
        raise AssertionError(f"the fake host does not know the task {script!r}")

    def _create(self, argv: tuple[str, ...]) -> Result:
        name = _after(argv, "--name")
        if name in self.containers:
            return Result(
                1,
                "",
                f'Error response from daemon: Conflict. The container name "/{name}" is '
                'already in use by container "9d1e". You have to remove (or rename) that '
                "container to be able to reuse that name.",
            )
        self.add(name, _labels(argv), running=False)
        self.created[name] = argv
        return Result(0, "9d1e" * 16 + "\n", "")

    def _copy(self, argv: tuple[str, ...], archive: bytes | None) -> Result:
        assert argv[2] == "-", argv
        assert archive is not None, argv
        name, _, destination = argv[3].partition(":")
        if name not in self.containers:
            return _no_such("container", name)
        assert destination == "/", argv
        files = self.copied.setdefault(name, {})
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                content = tar.extractfile(member) if member.isfile() else None
                if content is not None:
                    files["/" + member.name] = content.read().decode()
        return OK

    def _exec(self, argv: tuple[str, ...], stdin: str | None) -> Result:
        args = [arg for arg in argv[2:] if arg != "--interactive"]
        name, rest = args[0], args[1:]
        if not self.running(name):
            return Result(1, "", f"Error response from daemon: container {name} is not running")
        if rest[:2] == ["nginx", "-t"]:
            return OK
        if rest[0] == "pg_isready":
            return OK
        if rest[0] == "mv":
            self.files[rest[2]] = self.files.pop(rest[1])
            return OK
        assert rest[:2] == ["sh", "-c"], argv
        script = rest[2]
        if "nginx -t" in script:  # switch_routes: test, promote, (empty a log), reload
            assert stdin is not None
            self.files[docker.ROUTER_CONFIG] = stdin
            for emptied in re.findall(r": > (\S+) &&", script):
                self.files[emptied] = ""
            words = shlex.split(script)
            if "printf" in words:  # the routing record, written with the routes
                at = words.index("printf")
                self.files[words[at + 4].removesuffix(".tmp")] = words[at + 2]
            self.reloads += 1
            return OK
        if script.startswith("wc -l < "):  # router_traffic: requests logged, TCP table
            log = script.split()[3]
            logged = self.served.get(log, self.files.get(log, ""))
            return Result(0, f"{len(logged.splitlines())}\n---\n{self.in_flight(log)}", "")
        if script.startswith("cat /var/lib/gangway/logs/"):  # read_status_log
            path = script.split()[1]
            # `served` stands for the traffic a color answers after the switch
            return Result(0, self.served.get(path, self.files.get(path, "")), "")
        if script.startswith('cat "'):  # read_file
            return Result(0, self.files.get(script.split('"')[1], ""), "")
        assert stdin is not None, argv
        if script.startswith("cat >> "):
            path = shlex.split(script)[-1]
            self.files[path] = self.files.get(path, "") + stdin
        else:
            path = shlex.split(script)[-1]
            self.files[path] = stdin
        return OK


def _no_such(kind: str, name: str = "") -> Result:
    return Result(1, "", f"Error response from daemon: No such {kind}: {name}".rstrip(": "))


def backend_on(config: str, port: int) -> str | None:
    """The container the router's server on `port` proxies to (None: it answers itself)."""
    match = re.search(rf"listen {port};.*?(?:set \$backend ([\w-]+);|return 503)", config, re.S)
    return match.group(1) if match else None
