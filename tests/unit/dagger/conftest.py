"""The Dagger module, loaded offline: its package on the path, its main object named.

The SDK reads DAGGER_MAIN_OBJECT when `dagger.mod` is first imported (the engine's
runtime sets it), so it is set here, before any test module imports dagger.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
os.environ.setdefault("DAGGER_MAIN_OBJECT", "GangwayPipeline")
MODULE_SRC = str(ROOT / "dagger" / "src")
if MODULE_SRC not in sys.path:
    sys.path.insert(0, MODULE_SRC)
