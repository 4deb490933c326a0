"""The typed container `bootstrap()` builds: everything handlers and loops reach, in one place.

Entry points import this module, never `bootstrap` (which imports them), so the wiring has
no import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer

from .adapters.links import LinkSigner
from .adapters.templates import Templates
from .config import NotifySettings
from .service_layer.dispatch import Dispatcher
from .service_layer.policy import NotifyPolicy


@dataclass
class Notify:
    """A running notify's parts."""

    settings: NotifySettings
    pool: asyncpg.Pool
    cipher: NoteCipher
    pseudonyms: Pseudonymizer
    signer: LinkSigner
    templates: Templates
    policy: NotifyPolicy
    dispatcher: Dispatcher
    # Called after a commit that wrote to the outbox, so the relay publishes at once.
    wake_relay: Callable[[], None] = field(default=lambda: None)
    # Called after a commit that queued messages, so the dispatcher sends at once.
    wake_dispatcher: Callable[[], None] = field(default=lambda: None)
