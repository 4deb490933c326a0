"""The floor for intake's throughput: the least a FastAPI endpoint can do and keep intake's
promise that a `202` means Kafka has the event.

It reads the body the way intake does (`read_json_body` on a `DirectRoute`: one validation
with intake's own `ReportIn` from the raw bytes, no dependency solving), publishes it with
acks=all through an idempotent aiokafka producer (the client intake uses) to the reports
topic and answers 202 once acknowledged. No auth, pseudonyms, encryption, envelope or
receipt. Same uvicorn settings as intake and the baseline. `python bench/floor_app.py <port> <bootstrap>`.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request, Response
from shouwang_contracts.topics import TOPICS
from shouwang_intake.service_layer.commands import ReportIn
from shouwang_servicekit.fastlane import DirectRoute, read_json_body
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER
from shouwang_servicekit.serving import serve

producer: AIOKafkaProducer | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global producer
    producer = AIOKafkaProducer(bootstrap_servers=sys.argv[2], linger_ms=2, **DURABLE_PRODUCER)
    await producer.start()
    try:
        yield
    finally:
        await producer.stop()


app = FastAPI(lifespan=lifespan)
direct = APIRouter(route_class=DirectRoute)
TOPIC = TOPICS["reports"].name


@direct.post("/v1/reports", status_code=202)
async def accept(request: Request) -> Response:
    assert producer is not None
    report = await read_json_body(request, ReportIn)
    event_id = str(uuid.uuid4())
    delivery = await producer.send(
        TOPIC, report.model_dump_json().encode(), key=report.student_no.encode()
    )
    await delivery
    return Response(
        b'{"id":"%s","status":"received"}' % event_id.encode(),
        status_code=202,
        media_type="application/json",
    )


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


app.include_router(direct)


if __name__ == "__main__":
    serve(app, "127.0.0.1", int(sys.argv[1]))
