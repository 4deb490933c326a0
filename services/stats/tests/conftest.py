"""Stats' test helpers (`stats_seed_year`, `stats_kafka`) sit next to this file and are imported
as top-level modules: the test folders are not packages, so their names never collide with
another service's `tests`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
