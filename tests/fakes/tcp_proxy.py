"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to make a server unreachable the
way a failover does for the process under test (without stopping the server itself).

``cut()`` closes every open connection through it (both sides) and refuses new ones until
``restore()``: clients see their connection lost mid-query and then "connection refused".
``end_postgres_sessions()`` does what a PostgreSQL restart does to each session: the server
sends its client a FATAL error (57P01), then closes a moment later.
"""
from __future__ import annotations

import asyncio
import contextlib
import random
import struct

# The proxy listens below the kernel's ephemeral range (32768 and up): while it is cut, a
# client reconnecting to it could otherwise be given its port as a source port and connect to
# itself, and the proxy could not listen there again.
_PORTS = range(20000, 32768)


def postgres_fatal_error(message: str = "terminating connection due to administrator command") -> bytes:
    """A PostgreSQL ErrorResponse message: severity FATAL, SQLSTATE 57P01 (admin_shutdown)."""
    fields = b"".join(
        code + value.encode() + b"\0" for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", "57P01"), (b"M", message))
    ) + b"\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._pairs: dict[asyncio.Task, tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = {}

    @property
    def port(self) -> int:
        return self._port

    @property
    def connections(self) -> int:
        return len(self._pairs)

    async def start(self) -> TcpProxy:
        for port in random.sample(_PORTS, 50):
            with contextlib.suppress(OSError):
                await self._listen(port)
                return self
        raise OSError("no free port for the proxy")

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self._port = port

    async def cut(self) -> None:
        """Close every connection and stop listening: new connections are refused."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._close_all()

    async def restore(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            await self._listen(self._port)

    async def end_postgres_sessions(self, close_after: float) -> None:
        """Send every client a PostgreSQL FATAL error, and close the connections ``close_after``
        seconds later (new connections are accepted meanwhile)."""
        for client_writer, _ in self._pairs.values():
            client_writer.write(postgres_fatal_error())
        await asyncio.sleep(close_after)
        await self._close_all()

    async def _close_all(self) -> None:
        tasks = list(self._pairs)
        for writers in list(self._pairs.values()):
            for writer in writers:
                writer.transport.abort()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.cut()

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        writers = (client_writer, server_writer)
        if self._server is None:  # cut while this one was connecting
            for writer in writers:
                writer.transport.abort()
            return
        task = asyncio.current_task()
        self._pairs[task] = writers
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            self._pairs.pop(task, None)
            for writer in writers:
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
