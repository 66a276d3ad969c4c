"""Deploy benchmark: gangway's blue-green against the common naive script, same app, same load.

Run with `nox -s bench -- deploy` (or `python bench/deploy.py` where gangway is installed
and a Docker engine runs; GANGWAY_AIRGAPPED=1 on machines that cannot pull). It prints,
for each side: requests and failed requests during the deploys, p50/p99 latency while
switching against steady state, and for gangway also deploy wall time ÷ the new
container's start-to-healthy time and the rollback's decision-to-switched time.

Targets: 0 failed for gangway, overhead ratio ≤ 1.3, rollback ≤ 1 s median. The naive
baseline starts the new container, waits for Docker health, rewrites one nginx's upstream,
reloads it, and stops the old container at once (no drain). Both run without migrations
and with a minimal watch window, so the figures are the switching itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gangway.commands.image import build_argv
from gangway.config import PipelineConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.load import LoadGenerator, LoadSummary  # noqa: E402 - the tests' load generator
from tests.support.pg import free_port  # noqa: E402

OVERHEAD_TARGET = 1.3
ROLLBACK_TARGET = 1.0
SWITCHED = re.compile(r"^\[\s*([0-9.]+)s\] switch: .* is live", re.MULTILINE)
WATCH_TRIPPED = re.compile(r"^\[\s*([0-9.]+)s\] watch: .*: FAILED after", re.MULTILINE)
SWITCHED_BACK = re.compile(
    r"^\[\s*([0-9.]+)s\] watch: route live=\S+ preview=none: ok", re.MULTILINE
)
ENV = {**os.environ, "DOCKER_BUILDKIT": "0"}


def sh(*argv: str, stdin: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=ENV,
                          check=False)  # fmt: skip
    if check and proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout.strip()


def build_releases(pipeline: PipelineConfig, repository: str) -> dict[str, str]:
    """Two releases of the sample app, differing by the version baked in."""
    base = f"{repository}:base"
    sh(*build_argv(pipeline.image, tag=base, root=ROOT))
    releases = {}
    for version in ("b1", "b2"):
        tag = f"{repository}:{version}"
        sh("docker", "build", "--quiet", "--tag", tag, "-",
           stdin=f"FROM {base}\nENV APP_VERSION={version}\n")  # fmt: skip
        releases[version] = tag
    return releases


@contextmanager
def database(network: str, pipeline: PipelineConfig) -> Iterator[str]:
    password = secrets.token_urlsafe(12)
    name = f"{network}-db"
    sh("docker", "network", "create", network)
    sh("docker", "run", "--detach", "--pull=never", "--name", name, "--network", network,
       "--env", "POSTGRES_USER=notes", "--env", "POSTGRES_DB=notes",
       "--env", f"POSTGRES_PASSWORD={password}", pipeline.database.image)  # fmt: skip
    deadline = time.monotonic() + 60
    probe = ["docker", "exec", name, "pg_isready", "--host=127.0.0.1", "--username=notes"]
    while subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        if time.monotonic() > deadline:
            sys.exit("bench: the database did not start")
        time.sleep(0.3)
    try:
        yield f"postgresql://notes:{password}@{name}:5432/notes"
    finally:
        sh("docker", "rm", "--force", "--volumes", name, check=False)


def start_to_healthy(container: str) -> float:
    """Seconds from the container's start to its first passing Docker health check."""
    state = json.loads(sh("docker", "container", "inspect", "--format", "{{json .State}}",
                          container))  # fmt: skip
    started = _time(state["StartedAt"])
    passed = [_time(log["End"]) for log in state["Health"]["Log"] if log["ExitCode"] == 0]
    return min(passed) - started if passed else float("nan")


def _time(text: str) -> float:
    # Docker prints nanoseconds; datetime takes microseconds.
    text = re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()


def load_for(url: str) -> LoadGenerator:
    return LoadGenerator(url, clients=4, paths=("/health", "/notes?limit=5"),
                         slow_path="/slow?seconds=2", slow_every=1.0, max_seconds=900)  # fmt: skip


def run_gangway(pipeline: PipelineConfig, releases: dict[str, str], rounds: int) -> Figures:
    app = f"bench{uuid.uuid4().hex[:6]}"
    port, preview = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp, database(f"{app}-production", pipeline) as url:
        config = Path(tmp) / "pipeline.toml"
        config.write_text(f"""
[app]
name = "{app}"
[proxy]
image = "{pipeline.proxy.image}"
[environments.staging]
port = {free_port()}
preview_port = {free_port()}
[environments.production]
port = {port}
preview_port = {preview}
pull = "never"
secrets = ["DATABASE_URL"]
[environments.production.migrations]
command = []
[environments.production.watch]
window = "1ms"
""")
        env = {**ENV, "DATABASE_URL": url}
        env = {k: v for k, v in env.items() if not k.startswith("GANGWAY_ENVIRONMENTS")}

        def gangway(*args: str, expect: int = 0, **extra: str) -> tuple[float, str]:
            began = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "gangway", "--config", str(config), *args],
                                  capture_output=True, text=True, env={**env, **extra},
                                  check=False)  # fmt: skip
            if proc.returncode != expect:
                sys.exit(
                    f"bench: gangway {' '.join(args)} exited {proc.returncode}, not "
                    f"{expect}:\n{proc.stderr[-3000:]}"
                )
            return time.monotonic() - began, proc.stderr

        try:
            # the first release creates the schema; the measured ones have nothing to migrate
            gangway(
                "deploy",
                "--env",
                "production",
                "--image",
                releases["b1"],
                "--version",
                "b1",
                GANGWAY_ENVIRONMENTS__PRODUCTION__MIGRATIONS__COMMAND='["app", "migrate"]',
            )
            ratios: list[float] = []
            rollbacks: list[float] = []
            walls: list[float] = []
            to_switch: list[float] = []
            with load_for(f"http://127.0.0.1:{port}") as load:
                load.wait_for_requests(500, timeout=60)
                steady = (time.monotonic() - 3, time.monotonic())
                switching: list[tuple[float, float]] = []
                live = "b1"
                for _ in range(rounds):
                    nxt = "b2" if live == "b1" else "b1"
                    began = time.monotonic()
                    wall, log = gangway("deploy", "--env", "production", "--image", releases[nxt],
                                        "--version", nxt)  # fmt: skip
                    switching.append((began, time.monotonic()))
                    status = subprocess.run(
                        [sys.executable, "-m", "gangway", "--config", str(config), "status",
                         "--env", "production", "--json"],
                        capture_output=True, text=True, env=env, check=True,
                    ).stdout  # fmt: skip
                    color = json.loads(status)["live"]["color"]
                    healthy = start_to_healthy(f"{app}-production-{color}")
                    walls.append(wall)
                    ratios.append(wall / healthy)
                    switched = SWITCHED.search(log)
                    to_switch.append(
                        float(switched.group(1)) / healthy if switched else float("nan")
                    )
                    began = time.monotonic()
                    _, log = gangway("rollback", "--env", "production")
                    switching.append((began, time.monotonic()))
                    match = SWITCHED.search(log)
                    rollbacks.append(float(match.group(1)) if match else float("nan"))
                    load.wait_for_requests(len(load.samples()) + 300, timeout=60)
                total = load.summary()
            during = _merge([load.summary(a, b) for a, b in switching])
            figures = Figures(total, load.summary(*steady), during, walls, ratios, rollbacks,
                              to_switch)  # fmt: skip

            # The automatic rollback: a release that answers 500 is caught by the watch,
            # and traffic goes back; measured from the decision to the switched router.
            with load_for(f"http://127.0.0.1:{port}") as bad:
                bad.wait_for_requests(200, timeout=60)
                for _ in range(rounds):
                    nxt = "b2" if live == "b1" else "b1"
                    _, log = gangway(
                        "deploy", "--env", "production", "--image", releases[nxt], "--version",
                        nxt, expect=1, GANGWAY_ENVIRONMENTS__PRODUCTION__ENV__APP_FAULT="errors",
                        GANGWAY_ENVIRONMENTS__PRODUCTION__WATCH__WINDOW="30s",
                    )  # fmt: skip
                    tripped, back = WATCH_TRIPPED.search(log), SWITCHED_BACK.search(log)
                    if tripped and back:
                        figures.auto.append(float(back.group(1)) - float(tripped.group(1)))
                figures.bad_release = bad.summary()
            return figures
        finally:
            ids = sh("docker", "ps", "--all", "--quiet", "--filter",
                     f"label=dev.gangway.app={app}", check=False).split()  # fmt: skip
            if ids:
                sh("docker", "rm", "--force", *ids, check=False)
            sh("docker", "volume", "rm", f"{app}-production-state", check=False)
            sh("docker", "network", "rm", f"{app}-production", check=False)


NAIVE_NGINX = """
events {{}}
http {{
    server {{
        listen 80;
        location / {{ proxy_pass http://{upstream}:8000; }}
    }}
}}
"""


def run_naive(pipeline: PipelineConfig, releases: dict[str, str], rounds: int) -> Figures:
    """The usual script: start new, wait healthy, rewrite upstream, reload, stop old at once."""
    net = f"naive{uuid.uuid4().hex[:6]}"
    port = free_port()
    with database(net, pipeline) as url, tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "nginx.conf"

        def start(version: str) -> str:
            name = f"{net}-{version}-{uuid.uuid4().hex[:4]}"
            sh("docker", "run", "--detach", "--pull=never", "--name", name, "--network", net,
               "--health-interval", "1s", "--env", f"DATABASE_URL={url}",
               releases[version])  # fmt: skip
            while (
                sh("docker", "inspect", "--format", "{{.State.Health.Status}}", name) != "healthy"
            ):
                time.sleep(0.2)
            return name

        sh("docker", "run", "--rm", "--pull=never", "--network", net, "--env",
           f"DATABASE_URL={url}", releases["b1"], "app", "migrate")  # fmt: skip
        current = start("b1")
        conf.write_text(NAIVE_NGINX.format(upstream=current))
        proxy = f"{net}-nginx"
        sh("docker", "run", "--detach", "--pull=never", "--name", proxy, "--network", net,
           "--publish", f"127.0.0.1:{port}:80", "--volume", f"{conf}:/etc/nginx/naive.conf:ro",
           "--entrypoint", "nginx", pipeline.proxy.image, "-c", "/etc/nginx/naive.conf",
           "-g", "daemon off;")  # fmt: skip
        time.sleep(1)
        try:
            switching: list[tuple[float, float]] = []
            live = "b1"
            with load_for(f"http://127.0.0.1:{port}") as load:
                load.wait_for_requests(500, timeout=60)
                steady = (time.monotonic() - 3, time.monotonic())
                for _ in range(rounds * 2):  # as many switches as gangway's deploys + rollbacks
                    live = "b2" if live == "b1" else "b1"
                    began = time.monotonic()
                    new = start(live)
                    conf.write_text(NAIVE_NGINX.format(upstream=new))
                    sh("docker", "exec", proxy, "nginx", "-c", "/etc/nginx/naive.conf", "-s",
                       "reload")  # fmt: skip
                    sh("docker", "rm", "--force", current)  # at once: no drain
                    current = new
                    switching.append((began, time.monotonic()))
                    load.wait_for_requests(len(load.samples()) + 300, timeout=60)
                total = load.summary()
            return Figures(
                total, load.summary(*steady), _merge([load.summary(a, b) for a, b in switching])
            )
        finally:
            sh("docker", "rm", "--force", proxy, current, check=False)
            sh("docker", "network", "rm", net, check=False)


@dataclass
class Figures:
    """What one side of the comparison measured."""

    summary: LoadSummary
    steady: LoadSummary
    during: Window
    walls: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    rollbacks: list[float] = field(default_factory=list)
    to_switch: list[float] = field(default_factory=list)
    auto: list[float] = field(default_factory=list)
    bad_release: LoadSummary | None = None


@dataclass(frozen=True)
class Window:
    """The switching windows put together."""

    requests: int
    failed: int
    p50_ms: float
    p99_ms: float


def _merge(parts: list[LoadSummary]) -> Window:
    return Window(
        requests=sum(p.requests for p in parts),
        failed=sum(p.failed for p in parts),
        p50_ms=statistics.median(p.p50_ms for p in parts) if parts else 0.0,
        p99_ms=max((p.p99_ms for p in parts), default=0.0),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="deploy+rollback rounds")
    args = parser.parse_args()
    pipeline = load_config(ROOT / "pipeline.toml", environ=os.environ)
    repository = f"gangway-bench/deploy-{uuid.uuid4().hex[:6]}"
    releases = build_releases(pipeline, repository)
    try:
        print(f"bench: {args.rounds} rounds of deploy + rollback under 4 keep-alive clients "
              "and a 2 s request every second")  # fmt: skip
        ours = run_gangway(pipeline, releases, args.rounds)
        naive = run_naive(pipeline, releases, args.rounds)
    finally:
        sh("docker", "image", "rm", "--force", *releases.values(), f"{repository}:base",
           check=False)  # fmt: skip

    print()
    print(f"{'':36}{'gangway':>18}{'naive script':>18}")
    print(f"{'requests (whole run)':36}{ours.summary.requests:>18}{naive.summary.requests:>18}")
    print(f"{'failed (whole run)':36}{ours.summary.failed:>18}{naive.summary.failed:>18}")
    print(f"{'failed while switching':36}{ours.during.failed:>18}{naive.during.failed:>18}")
    for label, key in (("p50 ms steady / switching", "p50_ms"), ("p99 ms steady / switching",
                                                                  "p99_ms")):  # fmt: skip
        cells = [f"{getattr(side.steady, key):.1f} / {getattr(side.during, key):.1f}"
                 for side in (ours, naive)]  # fmt: skip
        print(f"{label:36}{cells[0]:>18}{cells[1]:>18}")
    ratio = statistics.median(ours.ratios)
    rollback = statistics.median(ours.rollbacks)
    failed = ours.summary.failed
    print()
    print(f"{'deploy wall time (median)':36}{statistics.median(ours.walls):.2f} s")
    print(f"{'command start to switched / healthy':36}{statistics.median(ours.to_switch):.2f}"
          "   (the retire phase — watch, drain, stop — is not in this one)")  # fmt: skip
    verdicts = [
        ("deploy / start-to-healthy (median)", f"{ratio:.2f}", f"<= {OVERHEAD_TARGET}",
         ratio <= OVERHEAD_TARGET),
        ("manual rollback to switched (median)", f"{rollback:.2f} s",
         f"<= {ROLLBACK_TARGET} s", rollback <= ROLLBACK_TARGET),
        ("gangway failed requests", str(failed), "0", failed == 0),
    ]  # fmt: skip
    if ours.auto and ours.bad_release is not None:
        auto = statistics.median(ours.auto)
        bad = ours.bad_release
        print(f"{len(ours.auto)} bad releases (500s) deployed under the same load: they answered "
              f"{bad.failed} of {bad.requests} requests with errors before going back")  # fmt: skip
        verdicts.append(("automatic rollback (median)", f"{auto:.2f} s",
                         f"<= {ROLLBACK_TARGET} s", auto <= ROLLBACK_TARGET))  # fmt: skip
    for label, value, target, ok in verdicts:
        print(f"{label:36}{value:>10}   target {target:<8} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
