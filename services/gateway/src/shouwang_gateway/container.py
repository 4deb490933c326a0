"""The gateway's parts, as `bootstrap()` assembles them: what its handlers use."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
from shouwang_servicekit.ops import ReadinessCheck

from .adapters.store import GatewayStore
from .adapters.tokens import TokenMinter
from .config import GatewaySettings
from .domain.campuses import CampusDirectory
from .service_layer.signin import SignIns


@dataclass
class Gateway:
    """A started gateway. `resources` closes what bootstrap started, newest first."""

    settings: GatewaySettings
    store: GatewayStore
    sign_ins: SignIns
    minter: TokenMinter
    directory: CampusDirectory
    upstreams: dict[str, httpx.AsyncClient]
    resources: AsyncExitStack

    async def ping_database(self) -> bool:
        return await self.store.ping()

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        # The services have their own probes; the gateway is ready when its sessions are.
        return {"database": self.ping_database}

    async def close(self) -> None:
        await self.resources.aclose()
