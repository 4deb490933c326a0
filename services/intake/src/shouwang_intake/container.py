"""Intake's parts, as `bootstrap()` assembles them: what its handlers and consumers use."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_servicekit.ops import ReadinessCheck

from .adapters.publisher import EventPublisher
from .adapters.store import IntakeStore
from .config import IntakeSettings
from .service_layer.census import CensusIntake
from .service_layer.submissions import Submissions


@dataclass
class Intake:
    """A started intake. `resources` closes what bootstrap started, newest first."""

    settings: IntakeSettings
    store: IntakeStore
    pseudonymizer: Pseudonymizer
    submissions: Submissions
    census: CensusIntake
    reports_publisher: EventPublisher
    resources: AsyncExitStack

    async def ping_kafka(self) -> bool:
        return await self.reports_publisher.ping()

    async def ping_database(self) -> bool:
        return await self.store.ping()

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        return {"kafka": self.ping_kafka, "database": self.ping_database}

    async def close(self) -> None:
        await self.resources.aclose()
