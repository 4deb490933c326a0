"""Intake's HTTP API under /v1: reports, screenings, census files and receipts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, TypeVar

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from pydantic import StringConstraints, TypeAdapter, ValidationError
from shouwang_contracts.auth import Principal
from shouwang_contracts.instruments import Instrument
from shouwang_contracts.vocabulary import Language, Role, in_language
from shouwang_servicekit.app import app_container
from shouwang_servicekit.fastlane import DirectRoute, json_body_openapi, read_json_body
from shouwang_servicekit.problems import BIGINT_MAX, Problem, preferred_language
from shouwang_servicekit.security import CurrentPrincipal, require_roles, require_same_campus

from ..adapters.publisher import KafkaUnavailable
from ..adapters.store import CensusBatch, Receipt
from ..container import Intake
from ..service_layer.census import CensusStopped
from ..service_layer.commands import ReportIn, ScreeningIn
from ..service_layer.submissions import SubmissionRefused, Submitted
from .schemas import Accepted, CensusBatchOut, ReceiptOut, ReceiptPage, RowErrorOut

router = APIRouter(prefix="/v1")
# Reports and screenings: see `_reporter` below.
submissions = APIRouter(prefix="/v1", route_class=DirectRoute)

# Every member of the six-tier network reports, and so do college leaders.
REPORTERS = (
    Role.DORM_LEADER,
    Role.FLOOR_LEADER,
    Role.CLASS_WELLBEING_OFFICER,
    Role.RESIDENCE_COUNSELOR,
    Role.COMMUNITY_PSYCH_TEACHER,
    Role.COUNSELING_CENTER,
    Role.COLLEGE_LEADER,
)
SCREENERS = (
    Role.RESIDENCE_COUNSELOR,
    Role.COMMUNITY_PSYCH_TEACHER,
    Role.COUNSELING_CENTER,
    Role.CAMPUS_ADMIN,
)
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CENSUS_TYPES = {
    "text/csv",
    "application/csv",
    "application/vnd.ms-excel",
    "text/plain",
    _XLSX,
    "application/octet-stream",
    "",
}
_STATUS_LABELS = {
    "received": ("已收到，等待处理", "Received"),
    "in_progress": ("正在处理", "Being handled"),
    "closed": ("已处理完毕", "Closed"),
}

# Reports and screenings are intake's hot path: their endpoints take the request and check
# it themselves (media type, then token, then role, then body and Idempotency-Key), and are
# called without FastAPI's dependency solving (DirectRoute), which would cost a seventh of a
# report's CPU. The other routes declare their dependencies.
_reporter = require_roles(*REPORTERS, json_body=True)
_json_screener = require_roles(*SCREENERS, json_body=True)
Screener = Annotated[Principal, Depends(require_roles(*SCREENERS))]

_KEY_HEADER = "Idempotency-Key"
_KEY_MIN, _KEY_MAX = 8, 128
_IDEMPOTENCY_KEY = TypeAdapter(
    Annotated[str, StringConstraints(min_length=_KEY_MIN, max_length=_KEY_MAX)]
)
_SUBMISSION_PARAMETERS = [
    {
        "name": _KEY_HEADER,
        "in": "header",
        "required": False,
        "description": "Send the same key when retrying; the first answer is returned again.",
        "schema": {"type": "string", "minLength": _KEY_MIN, "maxLength": _KEY_MAX},
    }
]


_SUBMISSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "Idempotency-Key reused with another body"},
    503: {"description": "Kafka did not acknowledge; retry"},
}
_REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_SUBMISSION_RESPONSES,
    422: {
        "description": "A field failed validation (validation_failed), observed_at is in the"
        " future (observed_in_future), or `channel` is one the reporter's role cannot have"
        " learned of it by (channel_not_for_role); each names its field"
    },
    429: {
        "description": "This reporter sent too many reports lately; retry after Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
Submission = TypeVar("Submission", ReportIn, ScreeningIn)


async def _submission(
    request: Request, guard: Callable[[Request], Awaitable[Principal]], model: type[Submission]
) -> tuple[Principal, Submission, str | None]:
    """Check a submission in order: media type, token and role (`guard`), then body and
    Idempotency-Key together, then the campus. Returns who, what, and the key if any."""
    principal = await guard(request)
    idempotency_key, key_errors = _idempotency_key(request)
    body = await read_json_body(request, model, other_errors=key_errors)
    require_same_campus(principal, body.campus_id)
    return principal, body, idempotency_key


def _idempotency_key(request: Request) -> tuple[str | None, list[dict[str, Any]]]:
    """The Idempotency-Key header, or the validation errors it gives (reported with the body's)."""
    value = request.headers.get(_KEY_HEADER)
    if value is None:
        return None, []
    try:
        return _IDEMPOTENCY_KEY.validate_python(value), []
    except ValidationError as exc:
        return None, [{**e, "loc": ("header", _KEY_HEADER)} for e in exc.errors(include_url=False)]


# The container, the one way handlers reach intake's parts (the DirectRoute endpoints call
# `app_container` themselves: they solve no dependencies).
Container = Annotated[Intake, Depends(app_container)]


def _refused(exc: SubmissionRefused, headers: dict[str, str] | None = None) -> Problem:
    errors = (
        [{"field": exc.field, "message": exc.detail, "message_en": exc.detail_en, "type": exc.code}]
        if exc.field
        else None
    )
    return Problem(
        exc.status, exc.code, exc.detail, detail_en=exc.detail_en, errors=errors, headers=headers
    )


def _unavailable(d: Intake, exc: KafkaUnavailable) -> Problem:
    return Problem(
        503,
        "kafka_unavailable",
        "消息系统暂时无法确认写入，请稍后重试（可携带同一 Idempotency-Key）",
        detail_en="Kafka could not confirm the write; retry later (with the same Idempotency-Key)",
        headers={"Retry-After": str(d.settings.retry_after_seconds)},
    )


@contextmanager
def _answered_as_problems(d: Intake) -> Iterator[None]:
    """A refused submission becomes its 4xx problem; Kafka's silence a 503 with Retry-After."""
    try:
        yield
    except CensusStopped as exc:
        # The census batch exists and ended `failed`: point at it, it tells how far it got.
        raise _refused(exc, {"Location": f"/v1/screenings/bulk/{exc.batch_id}"}) from exc
    except SubmissionRefused as exc:
        raise _refused(exc) from exc
    except KafkaUnavailable as exc:
        raise _unavailable(d, exc) from exc


def _accepted(submitted: Submitted, kind: Literal["report", "screening"]) -> Response:
    """The 202, serialized here once: FastAPI would validate and dump `Accepted` again."""
    headers = {"Location": f"/v1/{kind}s/{submitted.id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    # Built from values intake made itself: constructed, not validated again.
    accepted = (
        Accepted.model_construct(
            id=submitted.id, report_id=submitted.id, received_at=submitted.received_at
        )
        if kind == "report"
        else Accepted.model_construct(
            id=submitted.id, screening_id=submitted.id, received_at=submitted.received_at
        )
    )
    body = accepted.model_dump_json(exclude_none=True)
    return Response(body, status.HTTP_202_ACCEPTED, headers, media_type="application/json")


@submissions.post(
    "/reports",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="submit_report",
    response_model=Accepted,
    summary="Report signals about a student, seen or learned of (上报预警信息)",
    responses=_REPORT_RESPONSES,
    openapi_extra=json_body_openapi(ReportIn, parameters=_SUBMISSION_PARAMETERS),
)
async def submit_report(request: Request) -> Response:
    principal, body, idempotency_key = await _submission(request, _reporter, ReportIn)
    d: Intake = app_container(request)
    # A reporter's reports are limited at the edge (`IntakeSettings.report_limit`).
    with _answered_as_problems(d):
        submitted = await d.submissions.submit_report(principal, body, idempotency_key)
    return _accepted(submitted, "report")


@submissions.post(
    "/screenings",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="submit_screening",
    response_model=Accepted,
    summary="Submit one screening result (提交单个测评结果)",
    responses=_SUBMISSION_RESPONSES,
    openapi_extra=json_body_openapi(ScreeningIn, parameters=_SUBMISSION_PARAMETERS),
)
async def submit_screening(request: Request) -> Response:
    principal, body, idempotency_key = await _submission(request, _json_screener, ScreeningIn)
    d: Intake = app_container(request)
    with _answered_as_problems(d):
        submitted = await d.submissions.submit_screening(principal, body, idempotency_key)
    return _accepted(submitted, "screening")


@router.post(
    "/screenings/bulk",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="submit_census",
    summary="Upload a census file, CSV or XLSX (批量上传心理普查结果)",
    response_model=CensusBatchOut,
)
async def submit_census(
    principal: Screener,
    d: Container,
    request: Request,
    response: Response,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX; header row first.")
    ],
    instrument: Annotated[
        Instrument | None, Form(description="Instrument for files without a 量表 column.")
    ] = None,
) -> CensusBatchOut:
    content_type = (file.content_type or "").split(";", 1)[0].strip().lower()
    if content_type not in _CENSUS_TYPES:
        raise Problem(
            415,
            "unsupported_media_type",
            "请上传 CSV 或 XLSX 文件",
            detail_en="Upload a CSV or XLSX file",
        )
    try:
        with _answered_as_problems(d):
            batch, known = await d.census.ingest(principal, file.file, file.filename, instrument)
    finally:
        await file.close()
    response.headers["Location"] = f"/v1/screenings/bulk/{batch.batch_id}"
    if known:
        response.status_code = status.HTTP_200_OK
    return await _batch_out(d, batch, request, limit=100, offset=0)


@router.get(
    "/screenings/bulk/{batch_id:uuid}",
    operation_id="get_census_batch",
    response_model=CensusBatchOut,
)
async def get_census_batch(
    batch_id: uuid.UUID,
    principal: Screener,
    d: Container,
    request: Request,
    errors_limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    errors_offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> CensusBatchOut:
    batch = await d.census.batch(principal, batch_id)
    if batch is None:
        raise Problem(404, "batch_not_found", "没有这个批次", detail_en="No such census batch")
    return await _batch_out(d, batch, request, limit=errors_limit, offset=errors_offset)


async def _batch_out(
    d: Intake, batch: CensusBatch, request: Request, *, limit: int, offset: int
) -> CensusBatchOut:
    english = preferred_language(request) == "en"
    errors = await d.store.batch_errors(batch.batch_id, limit=limit + 1, offset=offset)
    more = len(errors) > limit
    return CensusBatchOut(
        batch_id=str(batch.batch_id),
        status=batch.status,
        rows_total=batch.rows_total,
        rows_accepted=batch.rows_accepted,
        rows_rejected=batch.rows_rejected,
        rows_incomplete=batch.rows_incomplete,
        failure=(batch.failure_en or batch.failure) if english else batch.failure,
        created_at=batch.created_at,
        completed_at=batch.completed_at,
        errors=[
            RowErrorOut(
                row=e.row_number,
                field=e.field,
                code=e.code,
                message=e.message_en if english else e.message,
                graded=e.graded,
            )
            for e in errors[:limit]
        ],
        errors_next_offset=offset + limit if more else None,
    )


@router.get("/reports", operation_id="list_my_report_receipts", response_model=ReceiptPage)
async def list_my_report_receipts(
    principal: CurrentPrincipal,
    d: Container,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ReceiptPage:
    """My own reports' receipts, newest first: their status and nothing of the case."""
    reporter_ref = d.pseudonymizer.person_ref(principal.campus_id, principal.sub)
    receipts = await d.store.receipts_of(principal.campus_id, reporter_ref, "report", limit)
    language = preferred_language(request)
    return ReceiptPage(items=[_receipt_out(r, language) for r in receipts])


@router.get(
    "/reports/{report_id:uuid}", operation_id="get_report_receipt", response_model=ReceiptOut
)
async def get_report_receipt(
    report_id: uuid.UUID, principal: CurrentPrincipal, d: Container, request: Request
) -> ReceiptOut:
    """The reporter's own receipt: received, being handled, or closed. Nothing of the case."""
    return await _receipt(report_id, principal, d, request)


@router.get(
    "/screenings/{screening_id:uuid}",
    operation_id="get_screening_receipt",
    response_model=ReceiptOut,
)
async def get_screening_receipt(
    screening_id: uuid.UUID, principal: CurrentPrincipal, d: Container, request: Request
) -> ReceiptOut:
    return await _receipt(screening_id, principal, d, request)


async def _receipt(
    receipt_id: uuid.UUID, principal: Principal, d: Intake, request: Request
) -> ReceiptOut:
    receipt = await d.store.receipt(principal.campus_id, receipt_id)
    # Someone else's receipt is answered exactly like a missing one: ids reveal nothing.
    if receipt is None or receipt.reporter_ref != d.pseudonymizer.person_ref(
        principal.campus_id, principal.sub
    ):
        raise Problem(
            404,
            "receipt_not_found",
            "没有找到你的这条上报",
            detail_en="No such submission of yours",
        )
    return _receipt_out(receipt, preferred_language(request))


def _receipt_out(receipt: Receipt, language: Language) -> ReceiptOut:
    return ReceiptOut(
        id=str(receipt.report_id),
        kind=receipt.kind,
        status=receipt.status,
        status_label=in_language(_STATUS_LABELS[receipt.status], language),
        received_at=receipt.received_at,
        updated_at=receipt.updated_at,
    )
