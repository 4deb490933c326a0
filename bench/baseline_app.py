"""The baseline for intake's throughput: a bare FastAPI endpoint, same body, same server.

It parses the same JSON body and answers 202 with an id, and nothing else: no auth, no
validation, no Kafka, no database. `python bench/baseline_app.py <port>` serves it with the
settings every service uses (`shouwang_servicekit.serving.serve`).
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from fastapi import FastAPI, status
from shouwang_servicekit.serving import serve

app = FastAPI()


@app.post("/v1/reports", status_code=status.HTTP_202_ACCEPTED)
async def accept(body: dict[str, Any]) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "status": "received"}


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


if __name__ == "__main__":
    serve(app, "127.0.0.1", int(sys.argv[1]))
