"""The waits of a plan, one poller each: Docker health, HTTP readiness, the smoke
command, the database, the watch window and the drain.

Each poller runs what its `Wait` step names (its probe, at its interval, until its
deadline) and raises DeployFailed with the step's name when the condition does not hold.
The verdicts are pure functions (`health_verdict`, `watch_verdict`), so the decisions
are tested without a host.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from gangway.commands.docker import Command
from gangway.commands.nginx import count_statuses
from gangway.errors import CommandFailed, DeployFailed, HealthCheckFailed
from gangway.execute import Executor
from gangway.health import Probe, count_open_to, wait_until_ready
from gangway.progress import Progress
from gangway.release.plan import Wait

#: Polls `url` until 2xx: (url, deadline, interval, request_timeout) -> the last answer.
ReadinessProbe = Callable[[str, float, float, float], Probe]


def http_readiness(url: str, deadline: float, interval: float, request_timeout: float) -> Probe:
    """The real readiness probe: httpx under an anyio deadline."""
    return anyio.run(
        lambda: wait_until_ready(
            url, deadline=deadline, interval=interval, request_timeout=request_timeout
        )
    )


WatchVerdict = Literal["failing", "judged", "too_few"]


def watch_verdict(
    total: int, errors: int, *, min_requests: int, max_error_rate: float
) -> WatchVerdict:
    """Over the threshold with enough requests to judge: failing; else judged or too few."""
    if total < min_requests:
        return "too_few"
    return "failing" if errors / total > max_error_rate else "judged"


HealthVerdict = Literal["healthy", "starting", "crashed", "unhealthy"]


def health_verdict(report: dict[str, Any]) -> HealthVerdict:
    """What `docker container inspect` (container_state) says of a starting container.
    With a restart policy a crashing release is rarely seen stopped: restarts count."""
    state = report["state"]
    health = (state.get("Health") or {}).get("Status")
    if not state.get("Running") or state.get("Restarting") or report["restarts"]:
        return "crashed"
    if health in (None, "healthy"):  # no HEALTHCHECK in the image: running is all
        return "healthy"
    return "unhealthy" if health == "unhealthy" else "starting"


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass
class Pollers:
    """Runs a plan's waits against the host (`executor`) and this machine (`local`)."""

    executor: Executor
    local: Executor
    progress: Progress
    readiness: ReadinessProbe = field(default=http_readiness)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def wait(self, step: Wait) -> None:
        {
            "healthy": self.healthy,
            "live": self.live,
            "ready": self.ready,
            "smoke": self.smoke,
            "database": self.database,
            "watch": self.watch,
            "drained": self.drained,
        }[step.kind](step)

    def _logs(self, step: Wait) -> str:
        if step.diagnose is None:
            return ""
        result = self.executor.run(step.diagnose, check=False)
        return (result.stdout + result.stderr).strip()

    def _probe(self, step: Wait) -> str:
        assert step.probe is not None
        return self.executor.run(step.probe).stdout

    def healthy(self, step: Wait) -> None:
        deadline = time.monotonic() + step.timeout
        while True:
            report = json.loads(self._probe(step))
            verdict = health_verdict(report)
            if verdict == "healthy":
                return
            if verdict == "crashed":
                restarts, state = report["restarts"], report["state"]
                raise HealthCheckFailed(
                    "start",
                    f"{step.subject} crashed at start and was restarted {restarts} time(s)"
                    if restarts
                    else f"{step.subject} exited with code {state.get('ExitCode')} before it "
                    "became healthy",
                    hint="its last log lines are above; fix the release and deploy again",
                    logs=self._logs(step),
                )
            if verdict == "unhealthy" or time.monotonic() >= deadline:
                checks = (report["state"].get("Health") or {}).get("Log") or [{}]
                last = str(checks[-1].get("Output", "")).strip().replace("\n", " ")[:200]
                status = (report["state"].get("Health") or {}).get("Status")
                raise HealthCheckFailed(
                    "health",
                    f"{step.subject} did not become healthy within {step.timeout:g}s "
                    f"(Docker health: {status}" + (f"; last check: {last}" if last else "") + ")",
                    hint="read its logs above; raise health.deploy_timeout only if the app "
                    "is just slow to start",
                    logs=self._logs(step),
                )
            self.sleep(step.interval)

    def ready(self, step: Wait) -> None:
        request_timeout = float(step.thresholds.get("request_timeout_s", 5.0))
        probe = self.readiness(step.subject, step.timeout, step.interval, request_timeout)
        if not probe.ready:
            raise HealthCheckFailed(
                "ready",
                f"{step.subject} did not answer 2xx within {step.timeout:g}s (last: "
                f"{probe.detail}, {probe.attempts} attempts)",
                hint="the app runs but says it cannot serve: check its /ready reasons and logs",
            )

    def live(self, step: Wait) -> None:
        """health.path through the preview route until 2xx: gangway's own liveness check,
        which counts whether or not the image has a HEALTHCHECK."""
        request_timeout = float(step.thresholds.get("request_timeout_s", 5.0))
        probe = self.readiness(step.subject, step.timeout, step.interval, request_timeout)
        if not probe.ready:
            raise HealthCheckFailed(
                "health",
                f"{step.subject} (liveness) did not answer 2xx within {step.timeout:g}s "
                f"(last: {probe.detail}, {probe.attempts} attempts)",
                hint="the release runs but says it is not alive: read its logs above; "
                'health.path = "" relies on the image\'s HEALTHCHECK alone',
                logs=self._logs(step),
            )

    def _alive(self, step: Wait) -> Probe:
        """One liveness check in the watch: 2xx within one request timeout."""
        timeout = float(step.thresholds.get("request_timeout_s", 5.0))
        return self.readiness(step.url, timeout, timeout, timeout)

    def smoke(self, step: Wait) -> None:
        """Run the smoke command against the preview URL; a failure or a timeout backs out."""
        hint = "the new color answers but fails its smoke tests; nothing live changed"
        command = Command(step.argv, f"smoke tests against {step.subject}")
        try:
            result = self.local.run(command, check=False, timeout=step.timeout)
        except CommandFailed as exc:  # not found (127) or timed out (124)
            if exc.returncode == 127:
                raise DeployFailed(
                    "smoke", f"smoke command not found: {step.argv[0]}", hint="check [stages] smoke"
                ) from None
            raise DeployFailed(
                "smoke",
                f"smoke tests did not finish within {step.timeout:g}s",
                hint=hint,
                logs=_tail(exc.stdout),
            ) from None
        if not result.ok:
            raise DeployFailed(
                "smoke",
                f"smoke tests failed against {step.subject} (exit {result.returncode})",
                hint=hint,
                logs=_tail(result.stdout + result.stderr),
            )

    def database(self, step: Wait) -> None:
        assert step.probe is not None
        deadline = time.monotonic() + step.timeout
        while not self.executor.run(step.probe, check=False).ok:
            if time.monotonic() >= deadline:
                raise DeployFailed(
                    "database",
                    f"{step.subject} did not accept connections within {step.timeout:g}s",
                    hint="its last log lines are above",
                    logs=self._logs(step),
                )
            self.sleep(step.interval)

    def watch(self, step: Wait) -> None:
        """Read the new color's error rate through the window; over the threshold (with
        enough requests to judge), fail at once so traffic goes back."""
        min_requests = int(step.thresholds["min_requests"])
        max_rate = float(step.thresholds["max_error_rate"])
        live_every = float(step.thresholds.get("liveness_interval_s", 1.0))
        allowed = int(step.thresholds.get("liveness_failures", 3))
        deadline = time.monotonic() + step.timeout
        next_live = time.monotonic()
        failed_in_a_row = 0
        total = errors = 0
        while True:
            if step.url and time.monotonic() >= next_live:
                alive = self._alive(step)
                next_live = time.monotonic() + live_every
                failed_in_a_row = 0 if alive.ready else failed_in_a_row + 1
                if failed_in_a_row >= allowed:
                    raise DeployFailed(
                        "watch",
                        f"{step.url} (liveness) failed {failed_in_a_row} checks in a row "
                        f"(last: {alive.detail}); traffic went back to the previous release",
                        hint="the release is stopped and kept: read its logs with `docker logs`",
                    )
            total, errors = count_statuses(self._probe(step))
            verdict = watch_verdict(total, errors, min_requests=min_requests,
                                    max_error_rate=max_rate)  # fmt: skip
            if verdict == "failing":
                raise DeployFailed(
                    "watch",
                    f"{step.subject} answered {errors} of {total} requests with 5xx "
                    f"({errors / total:.0%} > max_error_rate {max_rate:.0%}); "
                    "traffic went back to the previous release",
                    hint="the release is stopped and kept: read its logs with `docker logs`",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sleep(min(step.interval, left))
        judged = "judged" if verdict == "judged" else "too few to judge"
        self.progress.say(f"watch: {step.subject} served {total} requests, {errors} 5xx ({judged})")

    def drained(self, step: Wait) -> None:
        """Until the router has had nothing open to the color and logged no new request
        for it for `quiet_s`; a color that is gone or on no network has nothing left."""
        assert step.probe is not None
        assert step.setup is not None
        port = int(step.thresholds["port"])
        quiet = float(step.thresholds.get("quiet_s", 1.0))
        found = self.executor.run(step.setup, check=False)
        addresses = frozenset(found.stdout.split()) if found.ok else frozenset()
        if not addresses:
            return
        deadline = time.monotonic() + step.timeout
        served: int | None = None
        quiet_since: float | None = None
        while True:
            text = self._probe(step)
            count, _, tables = text.partition("---")
            logged = int(count.strip()) if count.strip().isdigit() else 0
            in_flight = count_open_to(tables, addresses, port)
            now = time.monotonic()
            if in_flight == 0 and logged == served:
                quiet_since = now if quiet_since is None else quiet_since
                if now - quiet_since >= quiet:
                    return
            else:
                quiet_since = None
            served = logged
            if now >= deadline:
                self.progress.say(
                    f"drain: {in_flight} request(s) still open to {step.subject} after "
                    f"{step.timeout:g}s; stopping it anyway"
                )
                return
            self.sleep(step.interval)
