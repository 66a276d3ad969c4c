"""docker CLI argv for the blue-green host: naming, labels and every command the deployer runs."""

from __future__ import annotations

import io
import shlex
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

Color = Literal["blue", "green"]
COLORS: Final[tuple[Color, Color]] = ("blue", "green")
LABEL: Final = "dev.gangway"
STATE_DIR: Final = "/var/lib/gangway"
NGINX_DIR: Final = f"{STATE_DIR}/nginx"
LOG_DIR: Final = f"{STATE_DIR}/logs"
HISTORY_FILE: Final = f"{STATE_DIR}/history.jsonl"
STATE_FILE: Final = f"{STATE_DIR}/state.json"
ROUTER_CONFIG: Final = f"{NGINX_DIR}/router.conf"
PROXY_CONFIG: Final = f"{NGINX_DIR}/proxy.conf"
ROUTER_LIVE_PORT: Final = 80
ROUTER_PREVIEW_PORT: Final = 81
PROXY_PORT: Final = 80
#: Where secret files land in a release container (Docker and Compose use the same).
SECRETS_DIR: Final = "/run/secrets"


def other(color: Color) -> Color:
    """The color a new release goes to when `color` is live."""
    return "green" if color == "blue" else "blue"


@dataclass(frozen=True)
class Command:
    """One command to run: its argv, what it feeds on stdin, and what it is for."""

    argv: tuple[str, ...]
    purpose: str
    stdin: str | None = None
    # Queries only read the host; `plan` runs them, and only them.
    query: bool = False
    # Binary stdin (an archive of secret files), said by `secret_label`, never shown:
    # not even its size, which would tell a secret's length.
    secret_stdin: bytes | None = field(default=None, repr=False)
    secret_label: str = ""

    def shell(self) -> str:
        """The command as a shell line, for plans and logs (stdin shown by size only)."""
        text = shlex.join(self.argv)
        if self.secret_stdin is not None:
            text += f"  <<< ({self.secret_label or 'secrets'} on stdin)"
        elif self.stdin is not None:
            text += f"  <<< ({len(self.stdin.encode())} bytes on stdin)"
        return text


@dataclass(frozen=True)
class Target:
    """One environment of one app on a Docker host: the names of everything gangway owns."""

    app: str
    environment: str

    @property
    def prefix(self) -> str:
        return f"{self.app}-{self.environment}"

    @property
    def network(self) -> str:
        return self.prefix

    @property
    def proxy(self) -> str:
        return f"{self.prefix}-proxy"

    @property
    def router(self) -> str:
        return f"{self.prefix}-router"

    @property
    def state_volume(self) -> str:
        return f"{self.prefix}-state"

    @property
    def lock(self) -> str:
        return f"{self.prefix}-lock"

    @property
    def task(self) -> str:
        """The one-off container of a release (migrations) when it needs secret files."""
        return f"{self.prefix}-task"

    def container(self, color: Color) -> str:
        return f"{self.prefix}-{color}"

    def labels(self, role: str, **extra: str) -> dict[str, str]:
        return {
            f"{LABEL}.app": self.app,
            f"{LABEL}.env": self.environment,
            f"{LABEL}.role": role,
            **{f"{LABEL}.{key}": value for key, value in extra.items()},
        }


def _label_args(labels: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    return args


def list_containers(target: Target) -> Command:
    """Ids of every container gangway owns for the target, running or not."""
    return Command(
        ("docker", "ps", "--all", "--quiet", "--no-trunc",
         "--filter", f"label={LABEL}.app={target.app}",
         "--filter", f"label={LABEL}.env={target.environment}"),
        "list the environment's containers",
        query=True,
    )  # fmt: skip


def inspect_containers(ids: Sequence[str]) -> Command:
    return Command(("docker", "container", "inspect", *ids), "inspect containers", query=True)


def inspect_image(ref: str) -> Command:
    return Command(("docker", "image", "inspect", ref), f"inspect image {ref}", query=True)


def read_file(target: Target, path: str) -> Command:
    """Print a file of the host state (empty output when it does not exist yet)."""
    return Command(
        ("docker", "exec", target.router, "sh", "-c", f'cat "{path}" 2>/dev/null || true'),
        f"read {path}",
        query=True,
    )


def write_file(target: Target, path: str, content: str, *, append: bool = False) -> Command:
    """Write (atomically: temp file, then rename) or append a file of the host state."""
    quoted = shlex.quote(path)
    if append:
        # A deployer killed mid-append leaves a line without its newline; end it first so
        # the next record is not glued onto the torn one.
        script = (
            f'if [ -s {quoted} ] && [ -n "$(tail -c 1 {quoted})" ]; then echo >> {quoted}; fi; '
            f"cat >> {quoted}"
        )
    else:
        script = f"mkdir -p $(dirname {quoted}) && cat > {quoted}.tmp && mv {quoted}.tmp {quoted}"
    return Command(
        ("docker", "exec", "--interactive", target.router, "sh", "-c", script),
        f"{'append to' if append else 'write'} {path}",
        stdin=content,
    )


def inspect_network(target: Target) -> Command:
    return Command(
        ("docker", "network", "inspect", "--format", "{{.Name}}", target.network),
        f"look for network {target.network}",
        query=True,
    )


def create_network(target: Target) -> Command:
    return Command(
        ("docker", "network", "create", *_label_args(target.labels("network")), target.network),
        f"create network {target.network}",
    )


def create_volume(target: Target) -> Command:
    return Command(
        ("docker", "volume", "create", *_label_args(target.labels("state")), target.state_volume),
        f"create volume {target.state_volume}",
    )


def seed_file(target: Target, image: str, path: str, content: str, *, pull_policy: str) -> Command:
    """Write one file into the state volume before the proxies that read it start — only
    if it is not there yet: a router recreated over a kept volume must come back with
    the live color and history the host already had."""
    quoted = shlex.quote(path)
    script = (
        f"mkdir -p $(dirname {quoted}) && "
        f"if [ -s {quoted} ]; then cat > /dev/null; else cat > {quoted}; fi"
    )
    return Command(
        ("docker", "run", "--rm", "--interactive", f"--pull={pull_policy}", "--network=none",
         "--volume", f"{target.state_volume}:{STATE_DIR}", "--entrypoint", "sh",
         image, "-c", script),
        f"write {path} into {target.state_volume}",
        stdin=content,
    )  # fmt: skip


def _run_nginx(
    target: Target,
    role: str,
    name: str,
    image: str,
    *,
    mount: str,
    publish: str,
    config: str,
    pull_policy: str,
) -> tuple[str, ...]:
    # SIGQUIT is nginx's graceful stop; docker import'ed images cannot declare it.
    return (
        "docker", "run", "--detach", f"--pull={pull_policy}", "--name", name,
        "--network", target.network, "--restart", "unless-stopped", "--stop-signal", "SIGQUIT",
        *_label_args(target.labels(role)),
        "--volume", f"{target.state_volume}:{mount}", "--publish", publish,
        "--entrypoint", "nginx", image, "-c", config, "-g", "daemon off;",
    )  # fmt: skip


def run_router(
    target: Target, image: str, address: str, preview_port: int, *, pull_policy: str
) -> Command:
    """The router: reloaded to switch colors; serves the live color and the preview port."""
    argv = _run_nginx(
        target, "router", target.router, image,
        mount=STATE_DIR, publish=f"{address}:{preview_port}:{ROUTER_PREVIEW_PORT}",
        config=ROUTER_CONFIG, pull_policy=pull_policy,
    )  # fmt: skip
    return Command(argv, f"start the router {target.router}")


def run_proxy(target: Target, image: str, address: str, port: int, *, pull_policy: str) -> Command:
    """The proxy: owns the public port and keeps clients' connections; never reloaded."""
    argv = _run_nginx(
        target, "proxy", target.proxy, image,
        mount=f"{STATE_DIR}:ro", publish=f"{address}:{port}:{PROXY_PORT}", config=PROXY_CONFIG,
        pull_policy=pull_policy,
    )  # fmt: skip
    return Command(argv, f"start the proxy {target.proxy}")


def start(name: str) -> Command:
    return Command(("docker", "start", name), f"start {name}")


def stop(name: str, grace_seconds: int) -> Command:
    return Command(
        ("docker", "stop", "--time", str(grace_seconds), name),
        f"stop {name} (grace {grace_seconds}s)",
    )


def remove(name: str) -> Command:
    return Command(("docker", "rm", "--force", name), f"remove {name}")


def remove_image(ref: str) -> Command:
    return Command(("docker", "image", "rm", ref), f"remove image {ref}")


def logs(name: str, tail: int = 40) -> Command:
    return Command(
        ("docker", "logs", "--tail", str(tail), name), f"last logs of {name}", query=True
    )


@dataclass(frozen=True)
class AppContainer:
    """What a release container needs: image, version, plain env, names of secrets
    (`secrets` by environment, `secret_files` as files in SECRETS_DIR)."""

    image: str
    version: str
    color: Color
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    secret_files: Sequence[str] = ()
    # Docker health is polled at the config's pace, not only the image's own interval.
    health_interval: int | None = None
    # `--volume` specs, e.g. the database accessory's credentials mounted read-only.
    volumes: Sequence[str] = ()


def secret_file(name: str) -> str:
    """The path of secret file `name` in a release container."""
    return f"{SECRETS_DIR}/{name}"


def _env_args(app: AppContainer) -> list[str]:
    args: list[str] = []
    for key, value in app.env.items():
        args += ["--env", f"{key}={value}"]
    # `--env NAME` without a value: docker copies it from its own environment, so a
    # secret's value never appears in an argv, a plan or a process listing.
    for name in app.secrets:
        args += ["--env", name]
    for name in app.secret_files:
        args += ["--env", f"{name}_FILE={secret_file(name)}"]
    return args


def _volume_args(volumes: Sequence[str]) -> list[str]:
    return [arg for spec in volumes for arg in ("--volume", spec)]


def _app_options(target: Target, app: AppContainer, pull_policy: str) -> tuple[str, ...]:
    return (
        f"--pull={pull_policy}", "--name", target.container(app.color),
        "--network", target.network, "--restart", "unless-stopped",
        *_label_args(target.labels("app", color=app.color, version=app.version,
                                    image=app.image)),
        *(("--health-interval", f"{app.health_interval}s") if app.health_interval else ()),
        *_env_args(app),
        *_volume_args(app.volumes),
        app.image,
    )  # fmt: skip


def run_app(target: Target, app: AppContainer, *, pull_policy: str) -> Command:
    return Command(
        ("docker", "run", "--detach", *_app_options(target, app, pull_policy)),
        f"start {app.color} ({app.version})",
    )


def secrets_archive(values: Mapping[str, str]) -> bytes:
    """A tar of `run/secrets/NAME` files (mode 0444, owned by root, dated 1970: the same
    values give the same bytes), for `docker cp -` to unpack at the container's `/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        folder = tarfile.TarInfo(SECRETS_DIR.lstrip("/"))
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        for name, value in sorted(values.items()):
            data = value.encode()
            entry = tarfile.TarInfo(secret_file(name).lstrip("/"))
            entry.size, entry.mode = len(data), 0o444
            archive.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def copy_secret_files(name: str, values: Mapping[str, str]) -> Command:
    """Put secret files into a created container through the engine's API (`docker cp`
    with a tar on stdin): it works on a remote engine, and no value is in an argv."""
    names = ", ".join(sorted(values))
    return Command(
        ("docker", "cp", "-", f"{name}:/"),
        f"copy secret files {names} into {name}",
        secret_stdin=secrets_archive(values),
        secret_label=f"a tar of {SECRETS_DIR}/{{{names}}}",
    )


def _values(app: AppContainer, secret_files: Mapping[str, str]) -> dict[str, str]:
    # A value missing here only happens in a plan (a deploy checks them first).
    return {name: secret_files.get(name, "") for name in app.secret_files}


def launch_app(
    target: Target, app: AppContainer, *, pull_policy: str, secret_files: Mapping[str, str]
) -> list[Command]:
    """Start a release: `docker run`, or, with secret files, create it, copy them in, and
    start it, so the app finds them from its first instruction."""
    if not app.secret_files:
        return [run_app(target, app, pull_policy=pull_policy)]
    name = target.container(app.color)
    return [
        Command(
            ("docker", "create", *_app_options(target, app, pull_policy)),
            f"create {app.color} ({app.version})",
        ),
        copy_secret_files(name, _values(app, secret_files)),
        Command(("docker", "start", name), f"start {app.color} ({app.version})"),
    ]


def run_once(
    target: Target, app: AppContainer, command: Sequence[str], *, pull_policy: str
) -> Command:
    """A one-off container of the release image (migrations), removed when it exits."""
    return Command(
        ("docker", "run", "--rm", f"--pull={pull_policy}", "--network", target.network,
         *_label_args(target.labels("task", version=app.version)),
         *_env_args(app),
         *_volume_args(app.volumes),
         app.image, *command),
        f"run `{shlex.join(command)}` in {app.version}",
    )  # fmt: skip


def run_task(
    target: Target,
    app: AppContainer,
    command: Sequence[str],
    *,
    pull_policy: str,
    secret_files: Mapping[str, str],
) -> list[Command]:
    """`run_once`, or with secret files: create the task container (a leftover of a killed
    deploy removed first), copy them in, and start it attached (its exit code is ours)."""
    if not app.secret_files:
        return [run_once(target, app, command, pull_policy=pull_policy)]
    purpose = f"run `{shlex.join(command)}` in {app.version}"
    create = (
        "docker", "create", "--rm", f"--pull={pull_policy}", "--name", target.task,
        "--network", target.network,
        *_label_args(target.labels("task", version=app.version)),
        *_env_args(app),
        *_volume_args(app.volumes),
        app.image, *command,
    )  # fmt: skip
    return [
        remove(target.task),
        Command(create, f"create the task container for {purpose}"),
        copy_secret_files(target.task, _values(app, secret_files)),
        Command(("docker", "start", "--attach", target.task), purpose),
    ]


def container_state(name: str) -> Command:
    return Command(
        (
            "docker",
            "container",
            "inspect",
            "--format",
            '{"state": {{json .State}}, "restarts": {{.RestartCount}}}',
            name,
        ),
        f"read the state of {name}",
        query=True,
    )


def addresses(name: str) -> Command:
    """The container's addresses on its networks (one line, space-separated)."""
    return Command(
        ("docker", "container", "inspect", "--format",
         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name),
        f"look up the addresses of {name}",
        query=True,
    )  # fmt: skip


def router_traffic(target: Target, log: str) -> Command:
    """What the router is doing with a color, in one exec: the number of requests it has
    logged for it, then its TCP tables (the router's namespace: its connections to the
    colors). Read from the router, so nothing depends on a program in the app's image."""
    script = (
        f"wc -l < {shlex.quote(log)} 2>/dev/null || echo 0; echo ---; "
        "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true"
    )
    return Command(
        ("docker", "exec", target.router, "sh", "-c", script),
        "read the router's traffic to " + log.rsplit("/", 1)[-1].removesuffix(".log"),
        query=True,
    )


def switch_routes(
    target: Target,
    config: str,
    purpose: str,
    *,
    fresh_log: str | None = None,
    state: str | None = None,
) -> Command:
    """Install a new router config in one round trip: write it as a candidate, `nginx -t`
    it, and only if that passes, rename it over the live one and reload gracefully
    (SIGHUP to the master, PID 1). A refused candidate is removed; nothing changes.
    `fresh_log` is emptied just before the reload, so it counts the new routes only.
    `state` (the routing record, state.json) is written in the same script, so a
    deployer killed mid-switch cannot leave the record and the routes disagreeing."""
    live = shlex.quote(ROUTER_CONFIG)
    candidate = shlex.quote(ROUTER_CONFIG + ".next")
    empty = f": > {shlex.quote(fresh_log)} && " if fresh_log else ""
    record = ""
    if state is not None:
        tmp = shlex.quote(STATE_FILE + ".tmp")
        record = (
            f"printf '%s\\n' {shlex.quote(state)} > {tmp} && mv {tmp} {shlex.quote(STATE_FILE)} && "
        )
    script = (
        f"mkdir -p {LOG_DIR} && cat > {candidate} && "
        f"if ! nginx -t -q -c {candidate}; then rm -f {candidate}; exit 65; fi && "
        f"mv {candidate} {live} && {record}{empty}kill -HUP 1"
    )
    return Command(
        ("docker", "exec", "--interactive", target.router, "sh", "-c", script),
        purpose,
        stdin=config,
    )


def read_status_log(target: Target, path: str) -> Command:
    return Command(
        (
            "docker",
            "exec",
            target.router,
            "sh",
            "-c",
            f"cat {shlex.quote(path)} 2>/dev/null || true",
        ),
        f"read {path}",
        query=True,
    )


def create_lock(
    target: Target, image: str, holder: str, host: str, since: str, *, pull_policy: str
) -> Command:
    """The lock is a container name: the engine lets only one create win."""
    return Command(
        ("docker", "create", f"--pull={pull_policy}", "--name", target.lock, "--network=none",
         *_label_args(target.labels("lock", holder=holder, host=host, since=since)),
         "--entrypoint", "true", image),
        f"take the deploy lock {target.lock}",
    )  # fmt: skip
