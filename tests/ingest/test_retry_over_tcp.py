"""A client that loses the connection after its write committed, and retries: one record.

Over the real server process (the Procfile's web command) and a raw socket, because only
a socket shows what a client sees when the connection dies before the answer arrives.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid

import httpx

from harness.server_process import ServerProcess
from tests.helpers import AUDITS, audit_body


async def _stored_answer(db, key: str, timeout_s: float = 10) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = await db.fetchval("SELECT response_body FROM idempotency_key WHERE key = $1", key)
        if answer is not None:
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError("the first request never committed")


async def test_a_retry_after_the_connection_died_replays_the_committed_record(db, entity_id):
    server = await asyncio.to_thread(ServerProcess(AUTH_REQUIRED="false").start)
    try:
        key = str(uuid.uuid4())
        body = json.dumps(audit_body(entity_id)).encode()
        request = (
            f"POST {AUDITS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f'Idempotency-Key: "{key}"\r\nContent-Length: {len(body)}\r\n\r\n'
        ).encode() + body
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(request)
        committed = json.loads(await _stored_answer(db, key))
        # Gone before reading a byte of the answer (a reset, not a polite close): to the
        # client this was a timeout.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

        async with httpx.AsyncClient(base_url=server.base_url) as client:
            retry = await client.post(
                AUDITS,
                content=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )

        assert retry.status_code == 201, retry.text
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json()["id"] == committed["id"]
        assert retry.headers["location"] == f"{AUDITS}/{committed['id']}"
        ids = await db.fetch("SELECT id FROM audit WHERE entity_id = $1", entity_id)
        assert [str(row["id"]) for row in ids] == [committed["id"]]
    finally:
        await asyncio.to_thread(server.stop)
