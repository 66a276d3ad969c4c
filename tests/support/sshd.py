"""A throwaway sshd on 127.0.0.1 so the docker CLI can reach the local engine over ssh://."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

SSHD = Path("/usr/sbin/sshd")
INSTALL_HINT = (
    f"{SSHD} not found; the docker-over-ssh tests need an OpenSSH server: "
    "apt-get install openssh-server"
)
CLIENT_HINT = "ssh not found; install the OpenSSH client: apt-get install openssh-client"
# sshd refuses to start without its privilege-separation directory, which the Debian
# package only creates from its init scripts, never run in a container.
_PRIVSEP_DIR = Path("/run/sshd")


class SshdUnavailable(RuntimeError):
    """The OpenSSH binaries are missing, or sshd would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


class SshServer:
    """sshd for root on 127.0.0.1, keys and client config in a temp dir, nothing else touched.

    `docker_env()` is the environment under which `docker` talks to the local engine
    through this server (`DOCKER_HOST=ssh://root@127.0.0.1:PORT`).
    """

    def __init__(self, *, start_timeout: float = 30.0) -> None:
        if not SSHD.exists():
            raise SshdUnavailable(INSTALL_HINT)
        ssh = shutil.which("ssh")
        if ssh is None or shutil.which("ssh-keygen") is None:
            raise SshdUnavailable(CLIENT_HINT)
        self.ssh = ssh
        self.start_timeout = start_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("SshServer is not started")
        return self._dir

    @property
    def docker_host(self) -> str:
        return f"ssh://root@{self.host}:{self.port}"

    @property
    def home(self) -> Path:
        return self.dir / "home"

    @property
    def client_key(self) -> Path:
        return self.dir / "client_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.home / ".ssh" / "config"

    @property
    def log(self) -> str:
        """What sshd printed so far (it runs with -e, so this is its whole log)."""
        path = self.dir / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def docker_env(self) -> dict[str, str]:
        """os.environ with HOME, PATH and DOCKER_HOST set so `docker` goes through this sshd."""
        env = dict(os.environ)
        env["HOME"] = str(self.home)
        # ssh reads ~/.ssh/config from the passwd entry's home, not $HOME, and the docker
        # CLI passes no ssh options, so an `ssh` early on PATH adds `-F` for it.
        env["PATH"] = f"{self.dir / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["DOCKER_HOST"] = self.docker_host
        # A context chosen elsewhere would win over nothing here, but DOCKER_CONTEXT would
        # win over DOCKER_HOST; drop it so the ssh endpoint is the one used.
        env.pop("DOCKER_CONTEXT", None)
        return env

    def ssh_argv(self, *command: str) -> list[str]:
        """argv that runs `command` on this server as root with the test client key."""
        return [self.ssh, "-F", str(self.ssh_config), self.host, *command]

    def start(self) -> SshServer:
        if self._proc is not None:
            raise RuntimeError("SshServer already started")
        self._dir = Path(tempfile.mkdtemp(prefix="gangway-sshd-"))
        self.port = free_port()
        try:
            self._prepare()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare(self) -> None:
        base = self.dir
        _keygen(base / "host_ed25519", "gangway-test-host")
        _keygen(self.client_key, "gangway-test-client")
        authorized = base / "authorized_keys"
        authorized.write_text((base / "client_ed25519.pub").read_text())
        # An empty config file keeps the machine's /etc/ssh/sshd_config (and its Includes)
        # from changing what the tests get; everything needed is given with -o.
        (base / "sshd_config").write_text("")
        ssh_dir = self.home / ".ssh"
        ssh_dir.mkdir(parents=True, mode=0o700)
        # ssh rejects a config that others could write, so it is created private.
        self.ssh_config.write_text(
            f"Host {self.host}\n"
            f"  HostName {self.host}\n"
            f"  Port {self.port}\n"
            "  User root\n"
            f"  IdentityFile {self.client_key}\n"
            "  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n"
            f"  UserKnownHostsFile {base / 'known_hosts'}\n"
            "  LogLevel ERROR\n"
            "  BatchMode yes\n"
        )
        self.ssh_config.chmod(0o600)
        bindir = base / "bin"
        bindir.mkdir()
        wrapper = bindir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec "{self.ssh}" -F "{self.ssh_config}" "$@"\n')
        wrapper.chmod(0o755)

    def _argv(self) -> list[str]:
        base = self.dir
        return [
            str(SSHD), "-D", "-e", "-f", str(base / "sshd_config"),
            "-p", str(self.port),
            "-o", f"ListenAddress={self.host}",
            "-o", f"HostKey={base / 'host_ed25519'}",
            "-o", f"AuthorizedKeysFile={base / 'authorized_keys'}",
            "-o", f"PidFile={base / 'sshd.pid'}",
            "-o", "StrictModes=no",
            "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no",
            "-o", "PermitRootLogin=prohibit-password",
            "-o", "UsePAM=no",
        ]  # fmt: skip

    def _launch(self) -> None:
        _PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        with (self.dir / "sshd.log").open("wb") as log:
            self._proc = subprocess.Popen(
                self._argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.start_timeout
        while not self._answers():
            if self._proc.poll() is not None:
                raise SshdUnavailable(
                    f"sshd exited with {self._proc.returncode} before listening:\n{self.log}"
                )
            if time.monotonic() > deadline:
                raise SshdUnavailable(
                    f"sshd did not answer on port {self.port} within "
                    f"{self.start_timeout:.0f}s:\n{self.log}"
                )
            time.sleep(0.05)

    def _answers(self) -> bool:
        """True once sshd accepts a connection and sends its SSH banner."""
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as sock:
                return sock.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
