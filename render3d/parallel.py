"""Rendering spread over local processes or a Ray cluster, with one progress bar for all of them.

A :func:`worker_pool` runs tasks (module-level functions, arguments that pickle) in ``workers``
local processes (``spawn``: no GL context or torch state is inherited) or as Ray tasks (``ray``: a
cluster address, ``"auto"``, or ``"local"`` for a new local instance). Each worker process imports
the heavy modules once, when it starts (local) or with its first task (Ray reuses its workers), and
then takes task after task. A task calls :func:`report` per item done (a frame, a scene); the pool
adds every worker's reports to one bar in the calling process.

On an error or Ctrl-C the pool stops its workers: local processes get SIGTERM, which render3d turns
into an ordinary exit (:func:`render3d.atomic.cleanup_on_sigterm`), so their encoders and temp
files are cleaned up; Ray tasks are cancelled.

Ray workers read the same paths as the caller (a recording, scene files, model files): on a cluster
those must sit on a shared file system, with render3d installed on every node. Results come back as
values (encoded video segments, PNG bytes), so the output folder need not be shared.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from render3d.errors import Render3DError

__all__ = ["WorkerError", "WorkerPool", "report", "split_range", "worker_pool"]

#: modules a rendering worker needs, imported once per worker before its first task
RENDER_MODULES = ("numpy", "pyvista", "render3d.record.animate", "render3d.rendering", "render3d.api")


class WorkerError(Render3DError, RuntimeError):
    """A worker process died (a crash, the out-of-memory killer) before finishing its task."""


_reporter: Any = None  # the worker's progress queue (a multiprocessing or Ray queue)


def report(done: int = 1) -> None:
    """Add ``done`` items to the calling pool's progress bar (nothing outside a pool's worker)."""
    if _reporter is not None:
        _reporter.put(done)


def split_range(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` as at most ``parts`` contiguous, non-empty ``(start, stop)`` ranges of near-equal length."""
    parts = max(1, min(parts, n))
    bounds = [round(k * n / parts) for k in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _start_worker(progress: Any, modules: Sequence[str]) -> None:
    """A local worker's start: progress goes to the parent's queue, SIGTERM cleans up, imports once."""
    from render3d.atomic import cleanup_on_sigterm

    global _reporter
    _reporter = progress
    cleanup_on_sigterm()
    for name in modules:
        importlib.import_module(name)


def _ray_task(progress: Any, modules: Sequence[str], fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    global _reporter
    _reporter = progress
    for name in modules:  # a no-op after a Ray worker's first task: it keeps its modules
        importlib.import_module(name)
    return fn(*args)


class WorkerPool:
    """Tasks on ``workers`` processes or Ray; :meth:`submit`, then :meth:`gather` in order.

    :meth:`report` counts items done in the calling process itself (when it renders a share too).
    """

    def __init__(self, workers: int, ray: str | None, modules: Sequence[str], bar: Any) -> None:
        self.ray = ray
        self._count = workers
        self._bar = bar
        self._started_ray = False
        if ray is None:
            ctx = mp.get_context("spawn")
            self._queue: Any = ctx.Queue()
            # an executor, not multiprocessing.Pool: a worker that dies (a GL crash) fails its task
            # (BrokenProcessPool) instead of leaving the caller waiting for it forever
            self._pool = ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_start_worker, initargs=(self._queue, tuple(modules))
            )
        else:
            self._queue = self._start_ray(ray, workers)
            import ray as ray_module

            self._remote = ray_module.remote(_ray_task)
        self._modules = tuple(modules)
        self._handles: list[Any] = []
        self._stop = threading.Event()
        self._drainer = threading.Thread(target=self._drain, name="render3d-progress", daemon=True)
        self._drainer.start()

    @property
    def workers(self) -> int:
        """How many tasks run at once: the local processes, or the Ray cluster's CPUs."""
        if self.ray is None:
            return self._count
        import ray as ray_module

        return max(1, int(ray_module.cluster_resources().get("CPU", 1)))

    def _start_ray(self, address: str, workers: int) -> Any:
        try:
            import ray as ray_module
            from ray.util.queue import Queue
        except ImportError:
            raise ImportError("--ray needs Ray: pip install 'render3d[ray]'") from None
        if not ray_module.is_initialized():
            local: dict[str, Any] = {"num_cpus": workers} if address == "local" and workers > 0 else {}
            ray_module.init(address=address, include_dashboard=False, log_to_driver=False, **local)
            self._started_ray = True
        return Queue()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Queue ``fn(*args)`` (``fn`` a module-level function) on a worker; returns its handle.
        Local workers take tasks in the order they were submitted."""
        handle: Any  # a concurrent.futures Future, or a Ray ObjectRef
        if self.ray is None:
            handle = self._pool.submit(fn, *args)
        else:
            handle = self._remote.remote(self._queue, self._modules, fn, args)
        self._handles.append(handle)
        return handle

    def cancel(self, handle: Any) -> bool:
        """Take a task back if no worker has started it (local workers only; a few tasks are queued
        on the workers ahead and count as started)."""
        return self.ray is None and handle.cancel()

    def report(self, done: int = 1) -> None:
        self._queue.put(done)

    def result(self, handle: Any) -> Any:
        """The task's result (waiting for it); its failure is raised here."""
        if self.ray is None:
            try:
                return handle.result()
            except BrokenProcessPool:
                raise WorkerError(
                    f"a worker process died while rendering (of {self._count}: crashed, or killed "
                    "for memory); run with --workers 1 to see the error, or give fewer workers"
                ) from None
        import ray as ray_module

        return ray_module.get(handle)

    def gather(self) -> list[Any]:
        """Every submitted task's result, in order of submission; the first failure is raised."""
        return [self.result(h) for h in self._handles]

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                done = self._queue.get(timeout=0.1)
            except Exception:  # queue.Empty, or Ray's own Empty
                continue
            self._bar.update(done)

    def close(self, failed: bool) -> None:
        """Stop the workers (at once when ``failed``) and the progress thread; count what is left."""
        if self.ray is None:
            processes = list(getattr(self._pool, "_processes", {}).values())  # started so far
            self._pool.shutdown(wait=not failed, cancel_futures=True)
            if failed:  # stop the running tasks too: SIGTERM, which each worker turns into a clean exit
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.join()
        else:
            import ray as ray_module

            if failed:
                for h in self._handles:
                    ray_module.cancel(h, force=True)
        self._stop.set()
        self._drainer.join()
        while True:  # the last reports, sent before the workers returned
            try:
                done = self._queue.get_nowait()
            except Exception:  # queue.Empty (or Ray's): every report is counted
                break
            self._bar.update(done)
        if self.ray is not None and self._started_ray:
            import ray as ray_module

            ray_module.shutdown()


@contextmanager
def worker_pool(
    workers: int, *, ray: str | None = None, modules: Sequence[str] = RENDER_MODULES, bar: Any = None
) -> Iterator[WorkerPool]:
    """A :class:`WorkerPool` of ``workers`` local processes, or of Ray tasks when ``ray`` is an
    address (``"local"``: a new local Ray with ``workers`` CPUs); stopped on leaving, at once on an error."""
    pool = WorkerPool(workers, ray, modules, bar if bar is not None else _NoBar())
    failed = True
    try:
        yield pool
        failed = False
    finally:
        pool.close(failed)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass
