"""Assemble the bare app's root file system: the interpreter, its libraries, the stdlib it uses."""

# Runs in the builder stage of tests/apps/bare/Dockerfile, as root:
#   python3 rootfs.py ROOT SERVER
# The module list is not guessed: the server runs once here under `-X importtime` while
# every endpoint, the drain and the crash path are exercised, and exactly the modules that
# process imported are copied. The tree is then proven by running the same exercise inside
# `chroot ROOT`, so a missing module or library fails the build, not a test.

from __future__ import annotations

import http.client
import importlib.util
import os
import py_compile
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

# The image's CMD runs the interpreter with exactly these options (keep them in step).
PYTHON = "/usr/bin/python3"
FLAGS = ["-I", "-S", "-u", "-X", "utf8"]
SERVER_PATH = "/app/server.py"
# Imported by http.client only to offer HTTPS, which the app never speaks; it would bring
# libssl and libcrypto (about 5 MB) into an image that has no other use for them.
LEFT_OUT = {"ssl", "_ssl"}
# glibc loads it at run time to unwind a thread in pthread_exit, which the interpreter
# calls for daemon threads still running at exit; without it the exit is a SIGSEGV
# ("libgcc_s.so.1 must be installed for pthread_exit to work").
DLOPENED = ("libgcc_s.so.1",)
LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not listen within 30s")


def exercise(argv: list[str]) -> str:
    """Run the server with `argv`, walk every code path, stop it; return its stderr."""
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "VERSION": "trace", "DRAIN_SECONDS": "0.2"}
    argv = [shutil.which(argv[0]) or argv[0], *argv[1:]]  # the server's env has no PATH
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    wait_listening(port, process)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for path in ("/", "/healthz", "/readyz", "/slow?s=0", "/slow?s=x", "/missing"):
        connection.request("GET", path)
        connection.getresponse().read()
    # http.server's own error page (a method it has no handler for).
    connection.request("POST", "/")
    connection.getresponse().read()
    connection.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"NOT HTTP\r\n\r\n")
        raw.recv(4096)
    # A request in flight at SIGTERM: its thread outlives the drain, as in a real stop.
    in_flight = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    in_flight.request("GET", "/slow?s=0.5")
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    if in_flight.getresponse().status != 200:
        raise SystemExit("the request in flight at SIGTERM did not get its 200")
    in_flight.close()
    _, stderr = process.communicate(timeout=30)
    if process.returncode != 0:
        raise SystemExit(f"{argv} exited with {process.returncode}:\n{stderr}")
    crashed = subprocess.run(argv, env={**env, "FAULT": "crash"}, capture_output=True, text=True)
    if crashed.returncode == 0:
        raise SystemExit(f"{argv} with FAULT=crash exited 0:\n{crashed.stderr}")
    return stderr + crashed.stderr


def imported_modules(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def mirror(path: str | Path, root: Path) -> None:
    """Copy `path` into `root` at the same place, recreating every symlink on the way."""
    current = Path("/")
    for part in Path(path).parts[1:]:
        step = current / part
        target = root / step.relative_to("/")
        if step.is_symlink():
            link = step.readlink()
            if not target.is_symlink():
                target.symlink_to(link)
            # `current` holds no symlink, so folding ".." in the link's target is exact.
            resolved = Path(os.path.normpath(current / link))
            mirror(resolved, root)
            current = resolved.resolve()
        elif step.is_dir():
            target.mkdir(mode=0o755, exist_ok=True)
            current = step
        else:
            if not target.exists():
                shutil.copy2(step, target)
            current = step


def libraries(binary: str) -> set[str]:
    """The shared objects `binary` loads, the dynamic loader included, as ldd resolves them."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return {match.group(1) for match in map(LDD_LINE.search, out.splitlines()) if match}


def cached(soname: str) -> str:
    """Where the loader's cache puts `soname` (for what ldd cannot see: dlopen)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        name, _, path = line.strip().partition(" => ")
        if name.split(" ", 1)[0] == soname and Path(path).exists():
            return path
    raise SystemExit(f"{soname} is not in the loader's cache (ldconfig -p)")


def compiled(source: str, root: Path) -> None:
    # Unchecked hashes: the pyc is trusted as is, whatever the copied mtimes say.
    py_compile.compile(
        source,
        cfile=str(root / importlib.util.cache_from_source(source).lstrip("/")),
        dfile=source,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def assemble(root: Path, server: str) -> None:
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    stderr = exercise([sys.executable, *FLAGS, "-X", "importtime", server])
    # The interpreter finds its home by this landmark, though it imports os frozen.
    sources = {str(Path(sysconfig.get_path("stdlib"), "os.py"))}
    binaries = {os.path.realpath(sys.executable)}
    for name in sorted(imported_modules(stderr) - LEFT_OUT):
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # a guarded import that failed in the traced run too
            continue
        if spec is None or spec.origin in (None, "built-in", "frozen"):
            continue
        if spec.origin.endswith(".py"):
            sources.add(spec.origin)
        else:
            binaries.add(spec.origin)
    for source in sources:
        mirror(source, root)
        compiled(source, root)
    shared = {library for binary in binaries for library in libraries(binary)}
    shared |= {cached(name) for name in DLOPENED}
    for path in sorted(binaries | shared):
        mirror(path, root)
    # The interpreter finds its platform libraries by this directory, even when it is empty.
    mirror(sysconfig.get_config_var("DESTSHARED"), root)
    mirror(sys.executable, root)
    python = root / PYTHON.lstrip("/")
    if not python.is_symlink() and not python.exists():
        python.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        python.symlink_to(sys.executable)
    app = root / SERVER_PATH.lstrip("/")
    app.parent.mkdir(mode=0o755, exist_ok=True)
    shutil.copyfile(server, app)
    app.chmod(0o644)
    compiled_app = root / importlib.util.cache_from_source(SERVER_PATH).lstrip("/")
    py_compile.compile(str(app), cfile=str(compiled_app), dfile=SERVER_PATH, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)  # fmt: skip
    # Libraries outside the loader's built-in paths (/usr/local/lib in python:*-slim) are
    # found through a cache, as on the builder.
    directories = sorted({str(Path(library).resolve().parent) for library in shared})
    (root / "etc").mkdir(mode=0o755, exist_ok=True)
    (root / "etc/ld.so.conf").write_text("".join(f"{d}\n" for d in directories))
    subprocess.run(["ldconfig", "-r", str(root)], check=True)
    checked = exercise(["chroot", str(root), PYTHON, *FLAGS, SERVER_PATH])
    if "Could not find" in checked:
        raise SystemExit(f"the interpreter misses part of its installation:\n{checked}")
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    size = sum(p.stat().st_size for p in files)
    print(f"rootfs: {len(files)} files, {size / 1e6:.1f} MB, {len(sources)} stdlib modules")


if __name__ == "__main__":
    assemble(Path(sys.argv[1]), sys.argv[2])
