"""The load generator's open loop reuses a keep-alive connection only while the server
surely still holds it open, so no request is lost to the server's keep-alive timeout."""

from __future__ import annotations

import asyncio

from loadgen import encode_requests, open_loop  # bench/ is on sys.path (conftest.py)

ANSWER = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}"


async def _count_connections(keep_alive: float) -> tuple[int, int]:
    """Four requests half a second apart to a server that answers every request; returns
    (connections the server saw, requests that were not answered 202)."""
    seen = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        seen += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                await reader.readexactly(length)
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    requests = encode_requests("127.0.0.1", port, "/v1/reports", {}, [b"{}"])
    async with server:
        _, errors = await open_loop(
            "127.0.0.1", port, requests, seconds=2.0, rate=2.0, ok=202, keep_alive=keep_alive
        )
    return seen, errors


async def test_a_connection_idle_past_the_keep_alive_is_not_reused() -> None:
    assert await _count_connections(keep_alive=0.1) == (4, 0)


async def test_a_connection_idle_less_than_the_keep_alive_is_reused() -> None:
    assert await _count_connections(keep_alive=10.0) == (1, 0)


async def test_open_loop_tells_the_caller_of_each_request_as_it_is_written() -> None:
    """The pipeline bench times each report from the moment its request is written."""
    written: list[int] = []
    answered_before: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
                answered_before.append(len(written))
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    requests = encode_requests("127.0.0.1", port, "/v1/reports", {}, [b"{}", b"[]", b"{}"])
    async with server:
        latencies, errors = await open_loop(
            "127.0.0.1", port, requests, seconds=0.3, rate=10.0, ok=202, on_send=written.append
        )
    assert written == [0, 1, 2]
    assert (len(latencies), errors) == (3, 0)
    # Each request was announced before the server could have seen it.
    assert answered_before == [1, 2, 3]
