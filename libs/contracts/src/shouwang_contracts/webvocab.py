"""The vocabulary the web app mirrors, as data: what its pages decide with must be the contract's.

The desk offers a control only where the services would accept it, so it reads the same words:
each role's tier and the tier that may acknowledge what it owns (`Role.acknowledged_from`),
the case states in loop order, the signal ids and who sees the whole campus
(`Principal.campus_wide`). `web/scripts/contracts.py` writes it under `web/` with what services
add (casework's tiers for working cases and overriding consent) and checks it stays current.
No labels: the web app's words are its own (web/src/i18n).
"""

from __future__ import annotations

from typing import Any

from .auth import Principal
from .events.casework import CaseState
from .scopes import ROLE_GRANTS, ScopeGrant, ScopeKind
from .vocabulary import SIGNAL_VOCABULARY_VERSION, Role, Severity, Signal


def _campus_wide(role: Role, *grants: ScopeGrant) -> bool:
    return Principal(sub="web", role=role, campus_id="web", scope=grants).campus_wide


def campus_wide_grants() -> list[str]:
    """The grant kinds that make a holder campus-wide, found by asking the rule itself of every
    kind on a role that may hold it and is not campus-wide by its role alone."""
    return [
        kind.value
        for kind in ScopeKind
        if any(
            kind in ROLE_GRANTS.get(role, frozenset())
            and not _campus_wide(role)
            and _campus_wide(role, ScopeGrant(kind=kind, value="x"))
            for role in Role
        )
    ]


def web_vocabulary() -> dict[str, Any]:
    """The contract's part of `web/src/domain/vocabulary.json` (see the module)."""
    return {
        "roles": {
            role.value: {
                "tier": None if role.tier is None else int(role.tier),
                "acknowledged_from": int(role.acknowledged_from),
            }
            for role in Role
        },
        "severities": [severity.value for severity in sorted(Severity)],
        "case_states": [state.value for state in CaseState],
        "signals": [signal.value for signal in Signal],
        "signal_vocabulary_version": SIGNAL_VOCABULARY_VERSION,
        "campus_wide": {
            "roles": [role.value for role in Role if _campus_wide(role)],
            "grants": campus_wide_grants(),
        },
    }
