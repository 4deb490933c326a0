"""A lean HTTP/1.1 load generator for the throughput bench.

The bench shares two cores with the servers it measures, Kafka and PostgreSQL. aiohttp spent
about 0.5 ms of CPU per request there (more than the bare FastAPI endpoint it measured), so
the client itself took a quarter of the machine. This one writes pre-encoded requests on
keep-alive connections from asyncio protocols and reads only the status line and
Content-Length of each answer: a few microseconds per request, so what is measured is the
server.

It understands exactly what the bench needs: one request per connection at a time (no
pipelining) and answers framed by Content-Length, which every Shouwang JSON answer has.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast


def encode_requests(
    host: str, port: int, path: str, headers: dict[str, str], bodies: Sequence[bytes]
) -> list[bytes]:
    """POST requests, one per body, encoded once before the clock starts."""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    prefix = head.encode("latin-1")
    return [prefix + b"Content-Length: %d\r\n\r\n" % len(body) + body for body in bodies]


# Under uvicorn's keep-alive timeout (5 s, which `serve` keeps), with a margin.
KEEP_ALIVE_SECONDS = 4.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection; calls `on_answer(self, status)` per complete answer, and
    `on_answer(self, 0)` if the server closed it while a request was waiting (which happens
    when the server's keep-alive timeout and a new request cross)."""

    def __init__(self, on_answer: Callable[[_Connection, int], None]) -> None:
        self.on_answer = on_answer
        self.waiting = False
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.answered_at = 0.0  # when its last answer arrived: idle since then
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, request: bytes) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.waiting = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise RuntimeError("an answer without Content-Length: the bench cannot frame it")
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop > 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            status = int(head[9:12])
            del self.buffer[:total]
            self.waiting = False
            self.answered_at = time.perf_counter()
            self.on_answer(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self.waiting:
            self.waiting = False
            self.on_answer(self, 0)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass
class Tally:
    accepted: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


async def _connect(
    host: str, port: int, on_answer: Callable[[_Connection, int], None]
) -> _Connection:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(lambda: _Connection(on_answer), host, port)
    return connection


async def closed_loop(
    host: str, port: int, requests: Sequence[bytes], seconds: float, concurrency: int, ok: int
) -> tuple[float, int]:
    """`concurrency` connections, each sending its next request when the last was answered.
    Returns (answers with status `ok` per second, other answers)."""
    tally = Tally()
    done = asyncio.get_running_loop().create_future()
    deadline = 0.0
    busy = concurrency
    counter = 0

    def on_answer(connection: _Connection, status: int) -> None:
        nonlocal busy, counter
        if status == ok:
            tally.accepted += 1
        else:
            tally.errors += 1
        if status and time.perf_counter() < deadline:
            counter += 1
            connection.send(requests[counter % len(requests)])
            return
        busy -= 1
        if busy == 0 and not done.done():
            done.set_result(None)

    connections = [await _connect(host, port, on_answer) for _ in range(concurrency)]
    try:
        started = time.perf_counter()
        deadline = started + seconds
        for n, connection in enumerate(connections):
            connection.send(requests[n % len(requests)])
        counter = concurrency - 1
        await asyncio.wait({done, *(c.lost for c in connections)}, return_when="FIRST_COMPLETED")
        if not done.done():
            raise RuntimeError("the server closed a connection during the closed loop")
        elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    return tally.accepted / elapsed, tally.errors


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    seconds: float,
    rate: float,
    ok: int,
    keep_alive: float = KEEP_ALIVE_SECONDS,
    on_send: Callable[[int], None] | None = None,
) -> tuple[list[float], int]:
    """Requests start on a fixed schedule whatever the answers (a new connection when all
    are busy): latency at a known load. `on_send(i)` is called just before request `i` is
    written (a caller timing what the request starts downstream). Returns (latencies of `ok`
    answers, other answers)."""
    tally = Tally()
    idle: list[_Connection] = []
    outstanding = 0
    drained = asyncio.get_running_loop().create_future()
    scheduling = True

    def on_answer(connection: _Connection, status: int) -> None:
        nonlocal outstanding
        if status == ok:
            tally.latencies.append(time.perf_counter() - connection.sent_at)
        else:
            tally.errors += 1
        outstanding -= 1
        if status:
            idle.append(connection)
        if not scheduling and outstanding == 0 and not drained.done():
            drained.set_result(None)

    interval = 1.0 / rate
    begin = time.perf_counter()
    connections: list[_Connection] = []
    try:
        for i in range(int(seconds * rate)):
            delay = begin + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Reuse the most recently answered connection, unless the server may be closing
            # it: a request written just as its keep-alive timeout fires is lost (status 0)
            # although the server did nothing wrong. So, like HTTP clients' keep-alive
            # expiry, retire a connection idle for longer than `keep_alive`.
            while idle and (
                idle[-1].lost.done() or time.perf_counter() - idle[-1].answered_at > keep_alive
            ):
                idle.pop().close()
            if idle:
                connection = idle.pop()
            else:
                connection = await _connect(host, port, on_answer)
                connections.append(connection)
            outstanding += 1
            if on_send is not None:
                on_send(i)
            connection.send(requests[i % len(requests)])
        scheduling = False
        if outstanding:
            await drained
    finally:
        for connection in connections:
            connection.close()
    return tally.latencies, tally.errors
