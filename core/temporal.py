"""One Temporal client for the whole web process.

Flask views are synchronous; the Temporal client is asyncio. The client lives on one event loop in
a background thread, connected once, and views hand it coroutines with a deadline.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import Client

T = TypeVar("T")


class TemporalClient:
    """Flask extension that owns the process's Temporal client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[tuple[str, str], Client] = {}
        self._connecting: asyncio.Lock | None = None

    def init_app(self, app) -> None:
        app.extensions["temporal"] = self

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="temporal-client", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop

    async def _client(self, address: str, namespace: str) -> Client:
        key = (address, namespace)
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if key not in self._clients:
                self._clients[key] = await Client.connect(address, namespace=namespace)
        return self._clients[key]

    def run(self, call: Callable[[Client], Awaitable[T]], timeout: float) -> T:
        """Run `call(client)` on the client's loop; raise TimeoutError after `timeout` seconds."""
        from flask import current_app

        address = current_app.config["TEMPORAL_ADDRESS"]
        namespace = current_app.config["TEMPORAL_NAMESPACE"]

        async def with_client() -> T:
            return await asyncio.wait_for(call(await self._client(address, namespace)), timeout)

        future = asyncio.run_coroutine_threadsafe(with_client(), self._ensure_loop())
        try:
            return future.result(timeout + 1)
        except TimeoutError:
            future.cancel()
            raise
