"""The start-of-term census: a file of many students' results, streamed onto the census topic.

A `202` for a census file means every gradable row was acknowledged by Kafka; a row with
blanks or unreadable cells is still published, flagged incomplete (graded on what it does say),
and rows nobody can attribute are rejected; both kinds of defect are kept with their row
numbers for the uploader to fix. The batch id derives from the campus and
the file's digest, so uploading the same file again (by mistake) publishes nothing new. Each
row's event id derives from what the row says (student, instrument, time, answers), so a
corrected file uploaded after a failed batch repeats the rows already sent under the same ids,
and consumers take them once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from shouwang_contracts.auth import Principal
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ScreeningSubmitted
from shouwang_contracts.instruments import Instrument
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import CENSUS
from shouwang_servicekit.cooperative import TimeSlice
from shouwang_servicekit.spreadsheets import SheetLimits

from .. import metrics
from ..adapters.census_files import UnreadableFile, read_upload, sha256_of, sheet_rows
from ..adapters.publisher import EventPublisher, KafkaUnavailable
from ..adapters.store import CensusBatch, IntakeStore
from ..domain.census import Cell, CensusRow, HeaderError, RowError, parse_row
from ..domain.census_header import SEARCH_ROWS, find_header
from .submissions import SOURCE, SubmissionRefused

logger = logging.getLogger(__name__)

_BATCH_NAMESPACE = uuid.UUID("9d3c7e52-61b4-4c41-bf43-3a1f0f5e2c90")
_SCREENING_NAMESPACE = uuid.UUID("5b0f2a3e-8c4d-4e7a-9a61-2f6d3c1b7e48")


def _screening_id(campus_id: str, student_ref: str, row: CensusRow, batch_id: uuid.UUID) -> str:
    """A census row's event id, from what it says rather than where it stood.

    The same screening uploaded again (a corrected file after a batch failed midway, or the
    same rows in another export) gets the same id, so consumers, which deduplicate by id, take
    it once. A row whose answers changed is another screening, with another id. A row whose
    time could not be read is dated by its upload: the same file's batch stands in for it.
    """
    answers = ",".join(str(item) for item in row.items)
    when = (
        f"assumed@{batch_id}"
        if "administered_at" in row.unreadable
        else row.administered_at.isoformat()
    )
    key = (
        f"{campus_id}:{student_ref}:{row.instrument.value}:{when}:"
        f"{answers}:{row.behavior_recency}:{row.counseling_requested}"
    )
    if row.incomplete:  # a blank is not a zero: the same answers with blanks are another sheet
        key += f":blank={','.join(map(str, row.unanswered))}:assumed={','.join(row.unreadable)}"
    return str(uuid.uuid5(_SCREENING_NAMESPACE, key))


@dataclass
class _Progress:
    total: int = 0
    acknowledged: int = 0  # acknowledged by Kafka: these rows are on the census topic
    incomplete: int = 0  # rows sent flagged incomplete (graded on what they say)
    errors: list[RowError] = field(default_factory=list)
    pending: list[asyncio.Future[Any]] = field(default_factory=list)
    next_beat: float = 0.0  # time.monotonic() when the batch's heartbeat is due


_INTERRUPTED = (
    "上传在处理中途中断（服务重启或故障），请重新上传同一文件",
    "The upload was interrupted while it was processed (the service restarted or failed);"
    " upload the same file again",
)


class CensusStopped(SubmissionRefused):
    """A refusal that came after the batch was registered: the batch tells how far it got."""

    def __init__(self, refused: SubmissionRefused, batch_id: uuid.UUID) -> None:
        super().__init__(
            refused.status,
            refused.code,
            refused.detail,
            refused.field,
            detail_en=refused.detail_en,
        )
        self.batch_id = batch_id


@dataclass(frozen=True, slots=True)
class CensusIntake:
    """Reads a census upload row by row and publishes each valid row."""

    store: IntakeStore
    publisher: EventPublisher  # the census producer, apart from the reports producer
    pseudonymizer: Pseudonymizer
    zone: ZoneInfo
    max_rows: int
    in_flight: int
    # An upload refreshes its batch's heartbeat this often; a 'processing' batch whose
    # heartbeat is older than `stale_seconds` was cut off (its process died).
    heartbeat_seconds: float = 5.0
    stale_seconds: float = 60.0

    async def batch(self, principal: Principal, batch_id: uuid.UUID) -> CensusBatch | None:
        """A batch as GET shows it, to its uploader or a reader of the whole campus (the
        counseling center reviewing the screening round, campus admins, a `campus` grant);
        None to anyone else, as for a missing batch. A census file lists students of any
        building and college, so no narrower scope covers its row numbers and codes, and a
        counselor of one building has no need of another screener's upload.

        One still 'processing' whose upload stopped beating was interrupted: it ends
        `failed` here, saying so, and the same file may be sent again."""
        campus_id = principal.campus_id
        batch = await self.store.batch(campus_id, batch_id)
        if batch is not None and not (
            principal.campus_wide
            or batch.submitted_by_ref == self.pseudonymizer.person_ref(campus_id, principal.sub)
        ):
            return None
        if batch is None or batch.status != "processing":
            return batch
        abandoned = await self.store.fail_abandoned_batch(
            campus_id,
            batch_id,
            stale_seconds=self.stale_seconds,
            failure=_INTERRUPTED[0],
            failure_en=_INTERRUPTED[1],
        )
        if abandoned is not None:
            logger.warning("census batch %s was interrupted (no heartbeat); now failed", batch_id)
        return abandoned or batch

    async def ingest(
        self,
        principal: Principal,
        upload: BinaryIO,
        filename: str | None,
        default_instrument: Instrument | None,
    ) -> tuple[CensusBatch, bool]:
        """Process one file; returns the batch and whether it was already known.

        A file that cannot be read to its end is refused (`CensusStopped`) and its batch
        ends `failed` with the reason and the counts so far. Rows Kafka acknowledged before
        the failure stay published (events cannot be withdrawn; consumers treat them like
        any census row), so the batch counts them in `rows_accepted` rather than hiding them.
        """
        digest = await asyncio.to_thread(sha256_of, upload)
        batch_id = uuid.uuid5(_BATCH_NAMESPACE, f"{principal.campus_id}:{digest}")
        submitter = self.pseudonymizer.person_ref(principal.campus_id, principal.sub)
        existing = await self.store.start_batch(
            batch_id, principal.campus_id, submitter, digest, stale_seconds=self.stale_seconds
        )
        if existing is not None:
            return existing, True

        progress = _Progress()
        try:
            await self._publish_rows(
                principal, upload, filename, default_instrument, batch_id, submitter, progress
            )
            await self._beat(batch_id, progress)
            await self._drain(progress)
        except KafkaUnavailable:
            await self._fail(
                batch_id,
                progress,
                ("消息系统未能确认这些行的写入", "Kafka did not acknowledge the rows"),
                cause="KafkaUnavailable",
            )
            raise
        except (UnreadableFile, HeaderError, SubmissionRefused) as exc:
            await self._settle(progress)
            cause = type(exc.__cause__ or exc).__name__
            if isinstance(exc, SubmissionRefused):
                refused = exc
            elif isinstance(exc, UnreadableFile):  # 413 over a limit, else 422
                refused = SubmissionRefused(
                    exc.status, exc.code, exc.message, "file", detail_en=exc.message_en
                )
            else:
                refused = SubmissionRefused(
                    422, "unreadable_file", exc.message, "file", detail_en=exc.message_en
                )
            failure = (refused.detail, refused.detail_en or refused.detail)
            await self._fail(batch_id, progress, failure, cause=cause)
            raise CensusStopped(refused, batch_id) from exc
        except Exception as exc:
            # Not the client's doing: still leave the batch in a state GET can tell.
            await self._fail(
                batch_id, progress, ("内部错误", "Internal error"), cause=type(exc).__name__
            )
            raise
        await self._finish(batch_id, progress)
        metrics.CENSUS_ROWS.labels("accepted").inc(progress.acknowledged)
        metrics.CENSUS_ROWS.labels("rejected").inc(
            len({e.row_number for e in progress.errors if not e.graded})
        )
        metrics.CENSUS_ROWS.labels("incomplete").inc(progress.incomplete)
        batch = await self.store.batch(principal.campus_id, batch_id)
        assert batch is not None  # just written
        return batch, False

    async def _settle(self, progress: _Progress) -> None:
        """Wait for the acks of rows already sent, so the failed batch counts them truly."""
        # Rows Kafka does not acknowledge are not counted; the reading failure stays the answer.
        with contextlib.suppress(KafkaUnavailable):
            await self._drain(progress)

    async def _fail(
        self, batch_id: uuid.UUID, progress: _Progress, failure: tuple[str, str], *, cause: str
    ) -> None:
        """End the batch `failed`; `failure` is why, in zh-CN and in English."""
        logger.info(
            "census batch %s failed after %d rows (%d on the topic): %s",
            batch_id,
            progress.total,
            progress.acknowledged,
            cause,  # the kind of error only: messages may quote a cell
        )
        await self._finish(batch_id, progress, failure)

    async def _finish(
        self, batch_id: uuid.UUID, progress: _Progress, failure: tuple[str, str] | None = None
    ) -> None:
        """Record how the batch ended: completed, or failed with why; counts as far as it got."""
        await self.store.finish_batch(
            batch_id,
            status="completed" if failure is None else "failed",
            total=progress.total,
            accepted=progress.acknowledged,
            incomplete=progress.incomplete,
            errors=progress.errors,
            failure=failure[0] if failure else None,
            failure_en=failure[1] if failure else None,
        )

    async def _publish_rows(
        self,
        principal: Principal,
        upload: BinaryIO,
        filename: str | None,
        default_instrument: Instrument | None,
        batch_id: uuid.UUID,
        submitter: str,
        progress: _Progress,
    ) -> None:
        data = await asyncio.to_thread(read_upload, upload)
        rows = sheet_rows(data, SheetLimits(max_rows=self.max_rows))
        # Closed here: a refused file (a bad header) leaves the worker mid-file, and closing
        # the reader stops it.
        async with contextlib.aclosing(rows):
            top = [row async for row in _first(rows, SEARCH_ROWS + 1)]
            if not top:
                raise UnreadableFile("文件为空", "The file is empty")
            columns, taken = find_header(top)
            now = datetime.now(UTC)
            # Yield by the clock, not every N rows: 50 rows between yields held a report's 202 up
            # by ~30 ms at p50 while a census was parsed.
            held = TimeSlice()
            progress.next_beat = time.monotonic() + self.heartbeat_seconds
            async for row_number, cells in _chained(top[taken:], rows):
                progress.total += 1
                parsed = parse_row(
                    row_number,
                    cells,
                    columns,
                    zone=self.zone,
                    now=now,
                    default_instrument=default_instrument,
                )
                if isinstance(parsed, list):
                    progress.errors.extend(parsed)
                else:
                    # A row with blanks or unreadable cells still goes to triage, flagged
                    # incomplete; its defects are listed for the uploader all the same.
                    progress.errors.extend(parsed.defects)
                    progress.incomplete += parsed.incomplete
                    student_ref = self.pseudonymizer.student_ref(
                        principal.campus_id, parsed.student_no
                    )
                    row_id = _screening_id(principal.campus_id, student_ref, parsed, batch_id)
                    payload = ScreeningSubmitted(
                        screening_id=row_id,
                        student_ref=student_ref,
                        submitted_by_ref=submitter,
                        instrument=parsed.instrument,
                        items=parsed.items,
                        behavior_recency=parsed.behavior_recency,
                        counseling_requested=parsed.counseling_requested,
                        administered_at=parsed.administered_at,
                        batch_id=str(batch_id),
                        batch_row=row_number,
                        incomplete=parsed.incomplete,
                        unanswered_items=list(parsed.unanswered),
                        unreadable_fields=list(parsed.unreadable),
                    )
                    envelope = Envelope.wrap(
                        payload,
                        source=SOURCE,
                        campus_id=principal.campus_id,
                        subject=student_ref,
                        event_id=row_id,
                    )
                    progress.pending.append(await self.publisher.enqueue(envelope, CENSUS))
                    if len(progress.pending) >= self.in_flight:
                        await self._drain(progress)
                        await self._beat(batch_id, progress)
                if held.over():
                    await asyncio.sleep(0)
                    held.renew()
                    await self._beat(batch_id, progress)

    async def _beat(self, batch_id: uuid.UUID, progress: _Progress) -> None:
        """Mark the batch alive when its heartbeat is due (see `batch`)."""
        if time.monotonic() >= progress.next_beat:
            await self.store.beat(batch_id)
            progress.next_beat = time.monotonic() + self.heartbeat_seconds

    async def _drain(self, progress: _Progress) -> None:
        """Wait until Kafka acknowledged every row sent so far."""
        if not progress.pending:
            return
        pending, progress.pending = progress.pending, []
        acknowledged = await self.publisher.wait_acknowledged(pending)
        progress.acknowledged += acknowledged
        metrics.published(CENSUS).inc(acknowledged)


async def _first(
    rows: AsyncIterator[tuple[int, list[Cell]]], count: int
) -> AsyncIterator[tuple[int, list[Cell]]]:
    """Up to `count` rows of `rows`, leaving the rest to be read (the header search)."""
    for _ in range(count):
        row = await anext(rows, None)
        if row is None:
            return
        yield row


async def _chained(
    read: Sequence[tuple[int, list[Cell]]], rows: AsyncIterator[tuple[int, list[Cell]]]
) -> AsyncIterator[tuple[int, list[Cell]]]:
    """The data rows already read with the header search, then the rest of the file."""
    for row in read:
        yield row
    async for row in rows:
        yield row
