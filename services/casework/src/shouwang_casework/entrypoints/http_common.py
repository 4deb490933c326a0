"""What every casework HTTP handler shares: the container, and running a use case in the
caller's campus transaction with its refusals answered as problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
from fastapi import Depends
from shouwang_contracts.auth import Principal
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem
from shouwang_servicekit.transient import is_transient

from ..adapters.audit import record_access
from ..adapters.cases import StaleCase
from ..adapters.db import campus_transaction
from ..container import Casework
from ..domain.guards import CaseRuleViolation
from ..service_layer.access import Caller, ReadRefused
from .http_messages import ZH, zh_detail, zh_field_message

#: The container, the one way handlers reach casework's parts.
Container = Annotated[Casework, Depends(app_container)]
T = TypeVar("T")
Work = Callable[[asyncpg.Connection, Caller, Casework], Awaitable[T]]


def refusal(exc: CaseRuleViolation) -> Problem:
    """A refusal of the service layer as problem+json: zh-CN by its code (or its own
    wording), English from the rule, the field at fault named with what is wrong with it."""
    detail = zh_detail(exc)
    field_en = exc.field_message or exc.detail
    errors = (
        [
            {
                "field": exc.field,
                "message": zh_field_message(exc) or field_en,
                "message_en": field_en,
            }
        ]
        if exc.field
        else None
    )
    return Problem(exc.status, exc.code, detail, detail_en=exc.detail, errors=errors)


async def in_campus(casework: Casework, principal: Principal, work: Work[T]) -> T:
    """Run `work` in the caller's campus transaction; map refusals to problem+json."""
    caller = Caller.of(principal, casework.pseudonymizer)
    try:
        async with campus_transaction(casework.pool, principal.campus_id) as conn:
            return await work(conn, caller, casework)
    except ReadRefused as exc:
        # The request's transaction rolled back; the refusal is audited in one of its own.
        async with campus_transaction(casework.pool, principal.campus_id) as conn:
            await record_access(
                conn,
                principal_ref=exc.principal_ref,
                role=exc.role,
                student_ref=exc.student_ref,
                action=f"{exc.action}.refused",
                reason=exc.code,
            )
        raise refusal(exc) from exc
    except CaseRuleViolation as exc:
        raise refusal(exc) from exc
    except (StaleCase, asyncpg.UniqueViolationError, asyncpg.SerializationError) as exc:
        raise Problem(
            409,
            "conflict",
            ZH["conflict"],
            detail_en="changed meanwhile; reload and retry",
        ) from exc
    except Exception as exc:
        if not is_transient(exc):
            raise
        # The database is away or restarting: say so and when to retry, not a bare 500.
        raise Problem(
            503,
            "database_unavailable",
            ZH["database_unavailable"],
            detail_en="the database is unavailable; retry shortly",
            headers={"Retry-After": "5"},
        ) from exc
