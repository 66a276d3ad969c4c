"""Fault matrix cells on the real engine, each with load running through the proxy.

Every cell checks the same three things: live traffic loses no request (except where a
cell says otherwise), the host's state is consistent (`gangway status` tells the truth
the app itself tells), and the next normal deploy succeeds. The first line of each
test's docstring, `Fault N: ...`, names its cell in the reliability table of docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration import test_deploy
from tests.integration.conftest import docker, wait_for
from tests.integration.test_deploy import Stage, assert_no_failures, snapshot, under_load

# The deploy tests' fixtures, shared rather than copied: releases v1..v3 and a stage.
release_images = test_deploy.release_images
stage = test_deploy.stage


def assert_consistent(stage: Stage) -> None:
    """`gangway status` names the version the public port really serves."""
    status = stage.status()
    assert status["live"]["version"] == stage.live_version(), status


def deploy_argv(stage: Stage, version: str) -> list[str]:
    return [
        sys.executable, "-m", "gangway", "--config", str(stage.config), "deploy", "--env",
        "production", "--image", stage.images[version], "--version", version,
    ]  # fmt: skip


def kill_when(stage: Stage, version: str, pattern: str, delay: float = 0.0) -> str:
    """Start a deploy and SIGKILL it as soon as a progress line matches `pattern`
    (after `delay` seconds); return the lines it printed. Fails if the deploy ends
    before the line shows up."""
    lines: list[str] = []
    killed = False
    with subprocess.Popen(
        deploy_argv(stage, version), env=stage.environ, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if re.search(pattern, line):
                if delay:
                    time.sleep(delay)
                process.send_signal(signal.SIGKILL)
                killed = True
                break
        process.wait(timeout=60)
    output = "".join(lines)
    assert killed, f"the deploy ended before a line matched {pattern!r}:\n{output}"
    assert process.returncode == -signal.SIGKILL
    return output


KILL_POINTS = {
    "after start": r"start: start \w+ \(v2\): ok",
    "after health": r"prove: until Docker reports \S+ healthy .*: ok",
    "during switch": r"prove: until http://\S+/ready answers 2xx .*: ok",
    "after switch": r"switch: \w+ \(v2\) is live",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
@pytest.mark.fault(6)
def test_deployer_killed_at_a_phase_boundary_harms_no_request(stage: Stage, point: str) -> None:
    """Fault 6: the deployer SIGKILLed at each phase boundary (after start, after health,
    during the switch, after the switch)."""
    stage.deploy("v1")
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        # during the switch: a few milliseconds into the one `docker exec` that switches
        kill_when(stage, "v2", KILL_POINTS[point], delay=0.05 if point == "during switch" else 0)
        after = len(load.samples())
        load.wait_for_requests(after + 300, timeout=60)
        assert_consistent(stage)
        # the dead deployer's lock (same host, dead pid) is taken over at once
        stage.deploy("v3")
        after = len(load.samples())
        load.wait_for_requests(after + 300, timeout=60)
    assert_no_failures(load.summary())
    assert stage.live_version() == "v3"
    assert_consistent(stage)


@pytest.mark.fault(7)
def test_proxy_config_failing_nginx_t_changes_nothing(stage: Stage) -> None:
    """Fault 7: a proxy config that fails `nginx -t`: the deploy stops, the running
    config stays, live keeps serving."""
    stage.deploy("v1")
    router = f"{stage.app}-production-router"
    # Any `nginx -t` in the router now fails, as a broken config would; the running
    # master (PID 1) keeps its loaded config. /usr/local/sbin comes first on PATH.
    wrapper = (
        "#!/bin/sh\n"
        'for arg in "$@"; do [ "$arg" = -t ] && { echo "nginx: [emerg] injected fault" >&2; '
        "exit 1; }; done\n"
        'exec /usr/sbin/nginx "$@"\n'
    )
    subprocess.run(
        ["docker", "exec", "--interactive", router, "sh", "-c",
         "mkdir -p /usr/local/sbin && cat > /usr/local/sbin/nginx && "
         "chmod +x /usr/local/sbin/nginx"],
        input=wrapper, text=True, check=True,
    )  # fmt: skip
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        proc = stage.gangway("deploy", "--env", "production", "--image", stage.images["v2"],
                             "--version", "v2")  # fmt: skip
        after = len(load.samples())
        load.wait_for_requests(after + 300, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert "nginx" in proc.stderr
        assert "nothing live changed" in proc.stderr
        assert stage.live_version() == "v1"
        assert_consistent(stage)
        docker("exec", router, "rm", "/usr/local/sbin/nginx")
        stage.deploy("v2")
    assert_no_failures(load.summary())
    assert stage.live_version() == "v2"
    history = stage.status()["history"]
    assert [(h["version"], h["outcome"]) for h in history] == [
        ("v1", "succeeded"),
        ("v2", "failed"),
        ("v2", "succeeded"),
    ]


@pytest.mark.fault(10)
def test_missing_image_fails_before_anything_live_changes(stage: Stage) -> None:
    """Fault 10: the image is on neither the host nor a reachable registry."""
    stage.deploy("v1")
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        missing = "127.0.0.1:9/gangway-test/absent:v9"  # port 9: nothing listens
        proc = stage.gangway("deploy", "--env", "production", "--image", missing)
        after = len(load.samples())
        load.wait_for_requests(after + 300, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert missing in proc.stderr
        assert "nothing live changed" in proc.stderr
        assert_consistent(stage)
        stage.deploy("v2")
    assert_no_failures(load.summary())
    assert stage.live_version() == "v2"


@pytest.mark.fault(11)
def test_invalid_pipeline_toml_is_refused_and_harms_nothing(stage: Stage, tmp_path: Path) -> None:
    """Fault 11: an invalid pipeline.toml: exit 2 naming the file and the key."""
    stage.deploy("v1")
    broken = tmp_path / "broken.toml"
    broken.write_text(stage.config.read_text().replace("retain = 3", 'retain = "three"', 1))
    before = snapshot(stage)
    with under_load(stage) as load:
        load.wait_for_requests(200, timeout=60)
        proc = subprocess.run(
            [sys.executable, "-m", "gangway", "--config", str(broken), "deploy", "--env",
             "production", "--image", stage.images["v2"]],
            capture_output=True, text=True, env=stage.environ, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 2
        assert f"{broken}: environments.production.retain:" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert snapshot(stage) == before
        stage.deploy("v2")
    assert_no_failures(load.summary())
    assert_consistent(stage)


def _dockerd() -> tuple[int, list[str]]:
    pid = int(subprocess.run(["pidof", "dockerd"], capture_output=True, text=True,
                             check=True).stdout.split()[0])  # fmt: skip
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    return pid, [arg.decode() for arg in argv]


@pytest.mark.skipif(
    os.environ.get("MAY_RESTART_DOCKERD") != "1",
    reason="restarts the Docker engine: set MAY_RESTART_DOCKERD=1 where the tests "
    "may do that (.ci/run does; it started dockerd itself)",
)
@pytest.mark.fault(9)
def test_dockerd_restart_brings_proxy_and_live_color_back(stage: Stage) -> None:
    """Fault 9: dockerd restarted while idle: proxy, router and the live color come back
    by themselves with the right color (requests fail only while the engine is down)."""
    # The accessory (restart policy and all) rather than the test's own database, which
    # an engine restart stops like any container nobody set to come back.
    stage.environ |= {
        "GANGWAY_ENVIRONMENTS__PRODUCTION__DATABASE__KIND": "accessory",
        "GANGWAY_ENVIRONMENTS__PRODUCTION__SECRETS": "[]",
    }
    stage.deploy("v1")
    stage.deploy("v2")  # v2 live, v1 stopped and kept: the wrong one must stay stopped
    pid, argv = _dockerd()
    os.kill(pid, signal.SIGTERM)
    wait_for("dockerd to exit", lambda: not Path(f"/proc/{pid}").exists(), timeout=60)
    # Started through a shell that exits at once: dockerd outlives this test, as the one
    # it replaces did.
    subprocess.run(
        ["sh", "-c", 'nohup "$@" >>/var/log/gangway-test-dockerd.log 2>&1 &', "sh", *argv],
        check=True,
    )
    wait_for(
        "dockerd to answer again",
        lambda: (
            subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
        ),
        timeout=60,
    )

    def serving() -> bool:
        try:
            return httpx.get(f"{stage.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for("the app to answer through the proxy again", serving, timeout=90)
    assert stage.live_version() == "v2"
    with under_load(stage) as load:
        load.wait_for_requests(300, timeout=60)
        assert_consistent(stage)
        stage.deploy("v3")
        after = len(load.samples())
        load.wait_for_requests(after + 300, timeout=60)
    assert_no_failures(load.summary())
    assert stage.live_version() == "v3"
