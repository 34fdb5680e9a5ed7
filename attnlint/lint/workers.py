"""Worker processes that a crash cannot take down with the run.

libcst's native parser can overflow its stack on input CPython accepts, and a segfault
in a ``ProcessPoolExecutor`` worker breaks the whole pool (``BrokenProcessPool``): every
other file's result is lost. Here each worker is supervised on its own pipe: results
stream back one file at a time, so when a worker dies the parent knows which file it was
on, answers that file with ``on_crash``, hands the rest of its batch to a fresh worker and
goes on. An exception raised while working on one file is that file's answer
(``on_error``), never the run's.
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import signal
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_QUIT = None


def _context() -> Any:
    # fork shares the already-imported rules and libcst with the workers for free.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _serve(
    conn: Connection,
    setup: Callable[[Any], None],
    setup_arg: Any,
    work: Callable[[Any], Any],
) -> None:
    """A worker's loop: batches of ``(index, item)`` in, one ``(index, ok, value)`` out per
    item, in order, as soon as it is done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    faulthandler.disable()  # a crash here is reported as the file's AL001, not as a dump
    setup(setup_arg)
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is _QUIT:
            return
        for index, item in batch:
            try:
                answer = work(item)
                conn.send((index, True, answer))
            except Exception as exc:  # one file's failure is its own answer
                what = f"{type(exc).__name__}: {exc}".splitlines()[0]
                conn.send((index, False, (what, traceback.format_exc())))


@dataclass(slots=True)
class _Worker:
    process: Any
    conn: Connection
    inflight: deque[int] = field(default_factory=deque)


@dataclass(slots=True)
class Supervisor(Generic[T, R]):
    """Run ``work`` over ``items`` in ``workers`` supervised processes, results in order.

    ``on_error(item, (message, traceback))`` answers an item whose work raised;
    ``on_crash(item, why)`` answers the item a worker died on (``why``: "signal 11").
    """

    work: Callable[[T], R]
    setup: Callable[[Any], None]
    setup_arg: Any
    on_error: Callable[[T, tuple[str, str]], R]
    on_crash: Callable[[T, str], R]
    workers: int = 1
    chunk: int = 8
    crashes: int = 0

    def run(self, items: Sequence[T]) -> list[R]:
        if not items:
            return []
        context = _context()
        pending: deque[int] = deque(range(len(items)))
        results: dict[int, R] = {}
        live: dict[Connection, _Worker] = {}
        wanted = max(1, min(self.workers, -(-len(items) // self.chunk)))
        try:
            for _ in range(wanted):
                self._start(context, live)
            for worker in list(live.values()):
                self._feed(worker, items, pending)
            while len(results) < len(items):
                if not live:
                    self._start(context, live)
                for conn in wait(list(live)):
                    worker = live[conn]  # type: ignore[index]
                    self._receive(worker, items, pending, results, live, context)
        finally:
            for worker in live.values():
                self._stop(worker)
        return [results[i] for i in range(len(items))]

    def _start(self, context: Any, live: dict[Connection, _Worker]) -> _Worker:
        parent, child = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve, args=(child, self.setup, self.setup_arg, self.work), daemon=True
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        live[parent] = worker
        return worker

    def _feed(self, worker: _Worker, items: Sequence[T], pending: deque[int]) -> None:
        """Keep at most two batches queued per worker, so it never waits for the parent."""
        if len(worker.inflight) > self.chunk or not pending:
            return
        batch = [pending.popleft() for _ in range(min(self.chunk, len(pending)))]
        worker.inflight.extend(batch)
        worker.conn.send([(i, items[i]) for i in batch])

    def _receive(
        self,
        worker: _Worker,
        items: Sequence[T],
        pending: deque[int],
        results: dict[int, R],
        live: dict[Connection, _Worker],
        context: Any,
    ) -> None:
        try:
            index, ok, value = worker.conn.recv()
        except (EOFError, OSError, ConnectionError):
            self._died(worker, items, pending, results, live, context)
            return
        worker.inflight.remove(index)
        results[index] = self.work_result(items[index], ok, value)
        self._feed(worker, items, pending)

    def work_result(self, item: T, ok: bool, value: Any) -> R:
        return value if ok else self.on_error(item, value)

    def _died(
        self,
        worker: _Worker,
        items: Sequence[T],
        pending: deque[int],
        results: dict[int, R],
        live: dict[Connection, _Worker],
        context: Any,
    ) -> None:
        del live[worker.conn]
        worker.process.join(5)
        code = worker.process.exitcode
        worker.conn.close()
        if worker.inflight:
            self.crashes += 1
            culprit = worker.inflight.popleft()
            why = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            results[culprit] = self.on_crash(items[culprit], why)
            pending.extendleft(reversed(worker.inflight))  # the rest goes to a fresh worker
        if pending:
            self._feed(self._start(context, live), items, pending)

    @staticmethod
    def _stop(worker: _Worker) -> None:
        with contextlib.suppress(OSError, ValueError):
            worker.conn.send(_QUIT)
        worker.process.join(2)
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(2)
        worker.conn.close()
