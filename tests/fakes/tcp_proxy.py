"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to make a server unreachable the
way a failover does for the process under test (without stopping the server itself).

``cut()`` closes every open connection through it (both sides) and refuses new ones until
``restore()``: clients see their connection lost mid-query and then "connection refused".
"""
from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._pairs: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> TcpProxy:
        await self._listen(0)
        return self

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Close every connection and stop listening: new connections are refused."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await asyncio.gather(*self._pairs, return_exceptions=True)

    async def restore(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            await self._listen(self._port)

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
        if self._server is None:  # cut while this one was connecting
            for writer in (client_writer, server_writer):
                writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        task = asyncio.current_task()
        self._pairs.add(task)
        try:
            await asyncio.gather(
                _pipe(client_reader, server_writer), _pipe(server_reader, client_writer), return_exceptions=True
            )
        finally:
            self._pairs.discard(task)
            for writer in (client_writer, server_writer):
                self._writers.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
