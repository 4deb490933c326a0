"""The one envelope every Shouwang event travels in (CloudEvents 1.0 field names).

A payload class declares its `EVENT_TYPE`, `SCHEMA_VERSION` and `TOPIC`; `Envelope.wrap`
builds the envelope around it so those never drift apart.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from .topics import student_key

SPEC_VERSION = "1.0"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class Payload(BaseModel):
    """Base of every event payload: frozen, no unknown fields, typed by class variables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[str] = "1"
    TOPIC: ClassVar[str]


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """CloudEvents 1.0 attributes, Shouwang's extensions and a typed payload in `data`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = Field(default=SPEC_VERSION, description="CloudEvents version, always 1.0.")
    id: str = Field(description="Unique event id; consumers deduplicate by it.", min_length=1)
    type: str = Field(description="Event type, e.g. `shouwang.report.submitted`.")
    source: str = Field(
        description="URI-reference of the producing service, e.g. `/shouwang/intake`."
    )
    time: AwareDatetime = Field(description="When the event happened, with its UTC offset.")
    subject: str = Field(description="The pseudonymous student reference the event is about.")
    datacontenttype: str = Field(default="application/json")
    campus_id: str = Field(description="Campus the event belongs to.", min_length=1, max_length=64)
    schema_version: str = Field(description="Version of the payload schema.")
    traceparent: str | None = Field(
        default=None, description="W3C trace context of the request that caused the event."
    )
    tracestate: str | None = Field(default=None, description="W3C tracestate, passed on as is.")
    data: P

    @field_validator("traceparent")
    @classmethod
    def _valid_traceparent(cls, value: str | None) -> str | None:
        if value is not None and not _TRACEPARENT.match(value):
            raise ValueError("traceparent must follow W3C trace context")
        return value

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Self:
        expected = getattr(type(self.data), "EVENT_TYPE", None)
        if expected is not None and self.type != expected:
            raise ValueError(f"type {self.type!r} does not match payload {expected!r}")
        return self

    @classmethod
    def wrap(
        cls,
        payload: P,
        *,
        source: str,
        campus_id: str,
        subject: str,
        event_id: str | None = None,
        time: datetime | None = None,
        traceparent: str | None = None,
    ) -> Envelope[P]:
        """Put a payload in its envelope, filling type and version from the payload class."""
        model: type[Envelope[P]] = envelope_class(type(payload))
        return model(
            id=event_id or str(uuid.uuid4()),
            type=payload.EVENT_TYPE,
            source=source,
            time=time or datetime.now(UTC),
            subject=subject,
            campus_id=campus_id,
            schema_version=payload.SCHEMA_VERSION,
            traceparent=traceparent,
            data=payload,
        )

    @property
    def key(self) -> bytes:
        """Kafka key: campus and student, so one student's events stay ordered."""
        return student_key(self.campus_id, self.subject)

    @property
    def topic(self) -> str:
        return type(self.data).TOPIC

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def headers(self) -> dict[str, str]:
        """Kafka headers in the CloudEvents Kafka binding's `ce_` style, for routing without parsing."""
        return {name: value.decode() for name, value in self.kafka_headers()}

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """`headers()` as a Kafka record carries them. Only the id and the trace differ from
        event to event; the rest is encoded once per type and source."""
        headers = [
            ("ce_id", self.id.encode()),
            *_constant_headers(self.type, self.source, self.specversion, self.schema_version),
        ]
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        return headers


@cache
def _constant_headers(
    type_: str, source: str, specversion: str, schema_version: str
) -> tuple[tuple[str, bytes], ...]:
    return (
        ("ce_type", type_.encode()),
        ("ce_source", source.encode()),
        ("ce_specversion", specversion.encode()),
        ("ce_schema_version", schema_version.encode()),
        ("content-type", b"application/cloudevents+json"),
    )


@cache
def envelope_class(payload_cls: type[P]) -> type[Envelope[P]]:
    """`Envelope[payload_cls]`, looked up once: pydantic's own lookup costs microseconds per
    call, which a census of tens of thousands of events pays per row."""
    return cast(Any, Envelope)[payload_cls]  # type: ignore[no-any-return]


def envelope_json_schema(payload_cls: type[Payload]) -> dict[str, Any]:
    """JSON Schema of one event type's envelope, with `type` pinned to its constant."""
    schema: dict[str, Any] = cast(Any, Envelope)[payload_cls].model_json_schema()
    schema["properties"]["type"]["const"] = payload_cls.EVENT_TYPE
    schema["properties"]["schema_version"]["const"] = payload_cls.SCHEMA_VERSION
    schema["title"] = payload_cls.EVENT_TYPE
    schema["$id"] = f"urn:shouwang:event:{payload_cls.EVENT_TYPE}:v{payload_cls.SCHEMA_VERSION}"
    schema["x-topic"] = payload_cls.TOPIC
    return schema
