"""The campus directory the sign-in and emergency pages show: names and numbers to call.

What to do when someone is in danger must not wait for a form or a sign-in, so these are
public: a campus's on-duty counselor line and campus security, plus the national numbers.
They are institutional numbers, never a person's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

EmergencyKind = Literal["police", "ambulance", "security", "duty_counselor", "hotline"]


class EmergencyNumber(BaseModel):
    """A number to call, with what it is for in both languages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EmergencyKind
    label: str = Field(description="zh-CN")
    label_en: str
    phone: str = Field(pattern=r"^[0-9+\-() ]{3,32}$")


class Campus(BaseModel):
    """One campus of the deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campus_id: str = Field(min_length=1, max_length=64)
    name: str
    name_en: str
    emergency: tuple[EmergencyNumber, ...] = ()


class CampusDirectory(BaseModel):
    """Every campus, and the numbers that hold everywhere (110, 120, the national hotline)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    everywhere: tuple[EmergencyNumber, ...] = ()
    campuses: tuple[Campus, ...] = ()

    def campus(self, campus_id: str) -> Campus | None:
        return next((c for c in self.campuses if c.campus_id == campus_id), None)


DEFAULT_FILE = Path(__file__).resolve().parent.parent / "campuses.yaml"


def load_directory(path: Path | None = None) -> CampusDirectory:
    """The directory from a YAML file (the packaged demo one by default)."""
    data = yaml.safe_load((path or DEFAULT_FILE).read_text(encoding="utf-8"))
    return CampusDirectory.model_validate(data)
