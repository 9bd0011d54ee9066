"""An oversized body is refused with a 413 the client can read, over real TCP.

The server answers before the client has finished sending. If it then closed the socket
with the rest of the body unread, the kernel would reset the connection and the client
would see a transport error instead of the 413; so the server reads and drops the rest
(within bounds) first. Each case is tried many times: the failure it guards against was
a race that lost most of the time, but not every time.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from harness.server_process import ServerProcess
from middleware import DISCARD_LIMIT_FACTOR, DISCARD_LIMIT_S
from settings import MIB
from tests.helpers import AUDITS, assert_error

TRIES = 20
JSON = {"content-type": "application/json"}
DEFAULT_LIMIT = MIB  # Settings.max_body_bytes when MAX_BODY_BYTES is unset


@pytest.fixture(scope="module")
def server():
    with ServerProcess() as running:
        yield running


def padded_json(size: int) -> bytes:
    head, tail = b'{"action_type": "create", "details": {"pad": "', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def in_chunks(body: bytes, chunk_size: int = 64 * 1024):
    for start in range(0, len(body), chunk_size):
        yield body[start : start + chunk_size]


async def outcomes_of(server: ServerProcess, make_content) -> list[str]:
    """POST TRIES times on fresh connections; each outcome is a status or an error name."""
    outcomes = []
    for _ in range(TRIES):
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            try:
                response = await http.post(AUDITS, content=make_content(), headers=JSON)
            except httpx.TransportError as error:
                outcomes.append(type(error).__name__)
                continue
        assert_error(response, 413, "payload_too_large")
        assert response.json()["details"] == {"limit_bytes": DEFAULT_LIMIT}
        outcomes.append(str(response.status_code))
    return outcomes


async def test_a_chunked_body_of_2_5_mib_reads_a_413_every_time(server):
    body = padded_json(5 * MIB // 2)
    outcomes = await outcomes_of(server, lambda: in_chunks(body))
    assert outcomes == ["413"] * TRIES, f"{outcomes.count('413')}/{TRIES} read the 413: {outcomes}"


async def test_a_2_mb_body_with_content_length_reads_a_413_every_time(server):
    body = padded_json(2_000_000)
    outcomes = await outcomes_of(server, lambda: body)
    assert outcomes == ["413"] * TRIES, f"{outcomes.count('413')}/{TRIES} read the 413: {outcomes}"


def raw_request(server: ServerProcess, head: str, body: bytes = b"") -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    connection.sendall(head.encode() + b"\r\n" + body)
    return connection


def read_status_line(connection: socket.socket) -> str:
    received = b""
    while b"\r\n" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    return received.split(b"\r\n", 1)[0].decode()


def test_a_client_that_waits_for_100_continue_is_refused_without_sending(server):
    head = (
        f"POST {AUDITS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {2 * DEFAULT_LIMIT}\r\nExpect: 100-continue\r\n"
    )
    with raw_request(server, head) as connection:
        assert read_status_line(connection).startswith("HTTP/1.1 413")


def test_a_body_declared_past_what_is_worth_draining_is_refused_at_once(server):
    declared = DISCARD_LIMIT_FACTOR * DEFAULT_LIMIT + 1
    head = (
        f"POST {AUDITS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n"
    )
    started = time.monotonic()
    with raw_request(server, head, b"{") as connection:
        assert read_status_line(connection).startswith("HTTP/1.1 413")
    assert time.monotonic() - started < DISCARD_LIMIT_S / 2


def test_a_body_that_stalls_past_the_cap_is_refused_after_the_time_bound(server):
    head = (
        f"POST {AUDITS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n"
    )
    over_the_cap = DEFAULT_LIMIT + 1024
    chunk = f"{over_the_cap:x}\r\n".encode() + b"x" * over_the_cap + b"\r\n"
    started = time.monotonic()
    with raw_request(server, head, chunk) as connection:  # and then nothing more is sent
        assert read_status_line(connection).startswith("HTTP/1.1 413")
    waited = time.monotonic() - started
    assert DISCARD_LIMIT_S * 0.9 <= waited < DISCARD_LIMIT_S + 5


async def test_the_server_still_serves_after_the_refusals(server):
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        assert (await asyncio.wait_for(http.get("/health"), 10)).status_code == 200
