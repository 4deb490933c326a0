"""The benchmark scripts import their helpers as top-level modules (`loadgen`, `stack`), as
they do when run as scripts from bench/; their tests do the same."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
