"""Notify's unit tests: the helpers live in modules named for notify (`notify_sms`) on
sys.path, so they never collide with another service's test helpers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
