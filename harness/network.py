"""A slow network between two of the product's processes."""

from __future__ import annotations

import asyncio

from harness.processes import LOOPBACK
from tests.support import BackgroundLoop, free_port


class LatencyProxy:
    """A loopback TCP proxy that delivers everything the upstream sends back `delay` seconds late
    (requests go through at once): a slow link between one process and another."""

    def __init__(self, loop: BackgroundLoop, upstream_port: int) -> None:
        self.loop = loop
        self.upstream_port = upstream_port
        self.port = free_port()
        self.delay = 0.0
        self._server: asyncio.base_events.Server | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> None:
        async def serve() -> asyncio.base_events.Server:
            return await asyncio.start_server(self._connection, LOOPBACK, self.port)

        self._server = self.loop.run(serve(), 10)

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None

            async def close() -> None:
                server.close()
                if hasattr(server, "close_clients"):  # Python 3.13+
                    server.close_clients()

            self.loop.run(close(), 10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            upstream = await asyncio.open_connection(LOOPBACK, self.upstream_port)
        except OSError:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(
            self._pump(reader, up_writer, late=False),
            self._pump(up_reader, writer, late=True),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, late: bool
    ) -> None:
        """Copy until EOF; with `late`, each chunk `delay` seconds after it arrived, in order."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            try:
                while data := await reader.read(65536):
                    chunks.put_nowait((loop.time() + (self.delay if late else 0.0), data))
            finally:
                chunks.put_nowait((0.0, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await chunks.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()
        finally:
            reading.cancel()
            writer.close()
