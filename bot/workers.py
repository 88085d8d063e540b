"""The process pool that parses feeds and pages off the event loop, and its workers.

``ParsePool`` starts its workers by spawning (the parent has threads and a loop: no
fork).  A worker is the bot's to stop, and never outlives it:

- it ignores SIGINT, so Ctrl-C at a terminal (which reaches the whole process group)
  stops only the bot, which then stops its workers: no worker tracebacks.  SIGINT is
  blocked from the spawn on, so even a worker still importing does not see it.
- it watches its parent: when the bot dies without stopping it (SIGKILL, the OOM
  killer, a crash), the worker exits within a second instead of lingering as an orphan.

``ParsePool.stop`` cancels the parses not started, gives running ones a short grace and
kills what is left, so that stopping the bot is bounded whatever a parse is doing.
This module imports only the standard library: the workers import it too.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import resource_tracker
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

WATCH_INTERVAL = 0.25  # seconds between a worker's looks at its parent


class ParsePool(ProcessPoolExecutor):
    def __init__(self, workers: int) -> None:
        self.context = _WorkerContext()
        super().__init__(
            max_workers=workers,
            mp_context=self.context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )

    def stop(self, grace: float) -> None:
        """Stop the workers: at once when they are idle, after ``grace`` seconds at most
        when a parse is running (its result is not wanted any more)."""
        self.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        for process in self.context.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self.context.processes:
            if process.is_alive():
                process.kill()
                process.join(1.0)


class _WorkerProcess(SpawnProcess):
    """A spawned process that starts with SIGINT blocked (the mask survives exec);
    ``_init_worker`` ignores SIGINT, then unblocks it."""

    def start(self) -> None:
        resource_tracker.ensure_running()  # it would unblock SIGINT when it starts
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _WorkerContext(SpawnContext):
    """The spawn context, making ``_WorkerProcess``es and remembering them."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: list[SpawnProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> SpawnProcess:  # type: ignore[override]
        process = _WorkerProcess(*args, **kwargs)
        self.processes.append(process)
        return process


def _init_worker(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Exit the worker once ``parent`` is gone (the worker was handed to another)."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(0)
