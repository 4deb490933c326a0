"""What casework's HTTP handlers declare to get their dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from shouwang_servicekit.app import app_container

from ..container import Casework

#: The container, the one way handlers reach casework's parts.
Container = Annotated[Casework, Depends(app_container)]
