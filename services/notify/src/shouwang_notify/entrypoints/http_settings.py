"""A campus's settings of notify (`/v1/settings/...`), for its campus admin: the hour of the
daily digest, and what family messages say besides the school's request to talk (the
counseling center's public line, the SMS signature)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from shouwang_contracts.auth import Principal
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem
from shouwang_servicekit.security import require_roles

from ..adapters import state
from ..adapters.db import campus_transaction
from ..container import Notify
from ..domain.campus_messages import FamilyMessageSettings, check
from . import http_schemas as s

App = Annotated[Notify, Depends(app_container)]
Admin = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN))]
AdminJson = Annotated[Principal, Depends(require_roles(Role.CAMPUS_ADMIN, json_body=True))]

router = APIRouter(prefix="/v1/settings", tags=["notify"])


def _by(app: Notify, principal: Principal) -> str:
    return app.pseudonyms.person_ref(principal.campus_id, principal.sub)


@router.get("/digest-hour", operation_id="get_digest_hour", response_model=s.DigestHour)
async def get_digest_hour(app: App, principal: Admin) -> s.DigestHour:
    """The hour (campus time) owners get their daily digest of mild warnings."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        hour = await state.digest_hour(conn, principal.campus_id, app.policy.default_digest_hour)
    return s.DigestHour(digest_hour=hour)


@router.put("/digest-hour", operation_id="put_digest_hour", response_model=s.DigestHour)
async def put_digest_hour(app: App, principal: AdminJson, body: s.DigestHour) -> s.DigestHour:
    """Set the campus's digest hour (from the next digest on)."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        await state.set_digest_hour(
            conn, principal.campus_id, body.digest_hour, _by(app, principal)
        )
    return body


@router.get("/family-messages", operation_id="get_family_messages", response_model=s.FamilyMessages)
async def get_family_messages(app: App, principal: Admin) -> s.FamilyMessages:
    """The counseling center's public line and the SMS signature of the campus's family
    messages (null: unset)."""
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        found = await state.family_message_settings(conn, principal.campus_id)
    return s.FamilyMessages(
        counseling_line=found.counseling_line, sms_signature=found.sms_signature
    )


@router.put("/family-messages", operation_id="put_family_messages", response_model=s.FamilyMessages)
async def put_family_messages(
    app: App, principal: AdminJson, body: s.FamilyMessages
) -> s.FamilyMessages:
    """Set both (null unsets one): family messages planned from now on use them."""
    wanted = FamilyMessageSettings(body.counseling_line, body.sms_signature)
    errors = check(wanted)
    if errors:
        raise Problem(
            422,
            "family_messages_invalid",
            "家长消息设置未通过校验",
            detail_en="The family message settings did not pass validation",
            errors=[
                {"field": e.field, "code": e.code, "message": e.message, "message_en": e.message_en}
                for e in errors
            ],
        )
    async with campus_transaction(app.pool, principal.campus_id) as conn:
        await state.set_family_message_settings(
            conn, principal.campus_id, wanted, _by(app, principal)
        )
    return body
