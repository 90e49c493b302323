"""The event loop a sync client runs its async core on: one daemon thread per client.

Blocking calls hand a coroutine function to the loop (an anyio blocking portal) and wait for
its result in the calling thread, so any number of threads may call at once: their requests
run concurrently on the one loop, where the async client's locks, pool and token live.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import CancelledError, Future
from typing import ParamSpec, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from sobjects.client._budget import active_meters, metering
from sobjects.errors import ClientClosedError

__all__ = ["LoopThread"]

P = ParamSpec("P")
# How long an interrupted call waits for its work to wind down (a Bulk API job's abort is
# bounded at 30 s); the caller gets the interruption either way.
_WIND_DOWN_SECONDS = 35.0
T = TypeVar("T")


class LoopThread:
    """An asyncio loop on a daemon thread, started on first use and stopped by ``close()``.

    A daemon thread, so that a client nobody closed never keeps the interpreter from exiting
    (the sync client also stops it when garbage-collected).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._pid = 0  # the process the loop thread runs in (a fork does not copy threads)

    @property
    def closed(self) -> bool:
        return self._closed

    def _started(self) -> BlockingPortal:
        with self._lock:
            if self._closed:
                raise ClientClosedError(
                    "this sync Salesforce client is closed (close() was called or its `with` "
                    "block ended); create a new one to send more requests"
                )
            if self.forked:
                raise ClientClosedError(
                    "this sync Salesforce client was started before the process forked: its "
                    "loop thread and connections stayed in the parent. Create the client in "
                    "each worker process (gunicorn: post_fork; Celery: worker_process_init)"
                )
            if self._portal is None:
                self._portal, self._thread = _start_loop()
                self._pid = os.getpid()
            return self._portal

    @property
    def forked(self) -> bool:
        """Whether this is a forked child of the process the loop thread runs in."""
        return self._portal is not None and os.getpid() != self._pid

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` on the loop and return (or raise) its outcome."""
        portal = self._started()
        if self.in_loop_thread():
            raise RuntimeError(
                "a sync sobjects call was made on its own client's event loop thread (from an "
                "event hook?), where it would wait forever: use the async API there"
            )
        # The caller's API call meters (a ContextVar) count the requests sent for it, as they
        # would for a task the caller started.
        meters = active_meters()

        ended = threading.Event()

        async def run() -> T:
            try:
                with metering(meters):
                    return await fn(*args, **kwargs)
            finally:
                ended.set()

        future = portal.start_task_soon(run)
        try:
            return future.result()
        except BaseException as exc:
            # Ctrl+C (or any interruption of the wait) cancels the work instead of leaving it
            # running on the loop unobserved, and waits for it to wind down, so that what it
            # leaves (a cancelled flush marks what was in flight) is settled when the caller
            # sees the interruption. A second Ctrl+C stops the wait.
            if not isinstance(exc, CancelledError) and not future.done():
                future.cancel()
                ended.wait(_WIND_DOWN_SECONDS)
            raise

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        """A blocking iterator over an async one; leaving early closes it on the loop."""
        try:
            while True:
                try:
                    item = self.call(_next, iterator)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None and not self._closed:
                self.call(close)

    def close(self) -> None:
        """Stop the loop and join its thread (tasks still running are cancelled)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            portal, thread = self._portal, self._thread
        if portal is None or thread is None or self.in_loop_thread():
            return
        if self.forked:
            return  # a forked child: the loop thread is the parent's, nothing to stop here
        with contextlib.suppress(RuntimeError):  # (stopped already)
            portal.call(portal.stop, True)  # True: cancel the tasks still running
        thread.join()


def _start_loop() -> tuple[BlockingPortal, threading.Thread]:
    """Start an asyncio loop on a daemon thread, serving a portal until ``portal.stop()``.

    (Not anyio's ``start_blocking_portal`` context manager: a generator left suspended in a
    forked child would try to stop the parent's loop when collected, and wait forever.)
    """
    ready: Future[BlockingPortal] = Future()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.set_result(portal)
            await portal.sleep_until_stopped()

    def run() -> None:
        try:
            anyio.run(serve, backend="asyncio")
        except BaseException as exc:  # the loop could not start: say why in the caller
            if not ready.done():
                ready.set_exception(exc)

    thread = threading.Thread(target=run, name="sobjects-sync", daemon=True)
    thread.start()
    return ready.result(), thread


async def _next(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


def stop_quietly(loop: LoopThread) -> None:
    """For a finalizer: stop the loop unless called on it (it would wait for itself)."""
    with contextlib.suppress(Exception):
        if not loop.in_loop_thread():
            loop.close()
