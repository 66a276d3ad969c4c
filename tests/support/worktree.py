"""Copy the checkout (tracked files plus the wheelhouse) where a test may change it freely."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def copy_checkout(dest: Path) -> Path:
    """Copy what a fresh clone plus set-up holds into `dest`; return `dest`."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for raw in listed.stdout.split(b"\0"):
        if raw:
            rel = Path(raw.decode())
            if (ROOT / rel).is_file():  # a tracked file deleted in the work tree is skipped
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, dest / rel)
    shutil.copytree(ROOT / "docker" / "wheels", dest / "docker" / "wheels", dirs_exist_ok=True)
    return dest
