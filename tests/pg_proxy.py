"""A loopback TCP proxy in front of PostgreSQL that a test can cut and restore.

Cutting it closes the listener and every open connection, which to the app looks exactly
like the database host going away; restoring it listens on the same port again. Freezing it
keeps every connection open and accepts new ones but passes nothing either way, as a hung
server or proxy does; thawing lets the held bytes through.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import parse_qs, urlsplit, urlunsplit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresProxy:
    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        self._target_port = parts.port or 5432
        self._target_unix = f"{socket_dir}/.s.PGSQL.{self._target_port}" if socket_dir else None
        self._target_host = parts.hostname or "127.0.0.1"
        self.port = free_port()
        user = parts.username or "postgres"
        password = f":{parts.password}" if parts.password else ""
        self.url = urlunsplit(
            ("postgresql", f"{user}{password}@127.0.0.1:{self.port}", parts.path, "", "")
        )
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        # Connections first: since Python 3.12.1 wait_closed() waits for every connection
        # the server accepted, so awaiting it before closing them would wait forever.
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()
        if server is not None:
            await server.wait_closed()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def _accept(self, reader, writer) -> None:
        self._pipes.add(writer)  # a cut while the upstream connection opens must close it too
        await self._flowing.wait()
        try:
            if self._target_unix:
                up_reader, up_writer = await asyncio.open_unix_connection(self._target_unix)
            else:
                up_reader, up_writer = await asyncio.open_connection(
                    self._target_host, self._target_port
                )
        except OSError:
            writer.close()
            return
        if writer not in self._pipes:  # cut meanwhile
            up_writer.close()
            return
        self._pipes.add(up_writer)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader, writer) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()
        self._pipes.discard(writer)
