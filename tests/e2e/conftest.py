"""The end-to-end tests' shared helpers (`e2e_support`) import by name from this folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
