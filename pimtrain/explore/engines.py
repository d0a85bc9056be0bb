"""Where points run: in this process, in a local process pool, or on a Ray cluster.

Every engine has one method, ``run(tasks)``: an iterator over the results (``worker.run_point``
mappings) in the order they finish. The driver alone writes them to the database, so an engine never
touches it. Cost points go out in chunks (a VGG-16 step costs well under a millisecond, less than a
round trip to a worker); training points go one by one.

Ray is imported here only, and only by :class:`RayEngine` (``pip install pimtrain[cluster]``).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pimtrain.design import PimtrainError

from .worker import run_chunk, run_point


def _chunks(tasks: list[dict], size: int) -> list[list[dict]]:
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def chunk_size(tasks: list[dict], workers: int) -> int:
    """Training points: 1. Cost points: about 8 chunks per worker, between 1 and 64 points each."""
    if any(t["settings"]["measure"] != "cost" for t in tasks):
        return 1
    return max(1, min(64, len(tasks) // (8 * max(workers, 1)) or 1))


class SerialEngine:
    """In this process, one point after another (``--workers 1``)."""

    name = "serial"
    workers = 1

    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        for t in tasks:
            yield run_point(t)

    def close(self) -> None:
        pass


@contextmanager
def _main_not_reimported():
    """Workers need only pimtrain: hide the user's script from the fork server while workers start, so a
    script that calls a sweep without an ``if __name__ == "__main__":`` guard works (the workers would
    otherwise import it, and start the sweep again)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is None or getattr(spec, "name", None) or not hasattr(main, "__file__"):
        yield                     # python -m pkg.module / interactive: the child imports the module by name
        return
    path = main.__file__
    try:
        del main.__file__
        yield
    finally:
        main.__file__ = path


class PoolEngine:
    """A ``concurrent.futures`` process pool of ``workers`` processes on this machine.

    Workers start from a fork server (no inherited threads or open database); each runs one torch
    thread for training points unless the spec says otherwise.
    """

    name = "pool"

    def __init__(self, workers: int | None = None):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or os.cpu_count() or 1
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["pimtrain.explore.worker", "pimtrain.cost", "pimtrain.workloads"])
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        tasks = list(tasks)
        with _main_not_reimported():
            pending = {self.pool.submit(run_chunk, c) for c in _chunks(tasks, chunk_size(tasks, self.workers))}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        chunk = f.result()
                    except BrokenProcessPool:
                        raise PimtrainError("sweep: a worker process died (out of memory or killed); the results "
                                            "that arrived are saved: run the same command again to resume") from None
                    yield from chunk
        finally:
            for f in pending:
                f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """The same sweep on a Ray cluster: ``address`` ('auto', 'ray://host:port', or None to use/start a
    local one). Cost points are CPU tasks; training points with ``train.device: auto`` or ``cuda`` ask
    for one GPU when the cluster has any (and then train on it)."""

    name = "ray"

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise PimtrainError("--cluster: Ray is not installed; install the extra: pip install 'pimtrain[cluster]'") from None
        self.ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - any failure to connect is the user's address
                raise PimtrainError(f"--cluster: cannot reach Ray at {address!r}: {' '.join(str(exc).split())}"[:300]) from None
        res = ray.cluster_resources()
        self.gpus = float(res.get("GPU", 0))
        self.workers = int(res.get("CPU", 1))
        self._remote = ray.remote(run_chunk)

    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        ray = self.ray
        tasks = list(tasks)
        refs = []
        for chunk in _chunks(tasks, chunk_size(tasks, self.workers)):
            t = chunk[0]["settings"].get("train") or {}
            if t and self.gpus > 0 and str(t.get("device")) in ("auto", "cuda"):
                refs.append(self._remote.options(num_cpus=1, num_gpus=1).remote(chunk, "cuda"))
            else:
                refs.append(self._remote.options(num_cpus=1).remote(chunk))
        while refs:
            done, refs = ray.wait(refs, num_returns=1)
            for ref in done:
                try:
                    chunk = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise PimtrainError(f"--cluster: a Ray task failed ({type(exc).__name__}); the results that "
                                        "arrived are saved: run the same command again to resume") from None
                yield from chunk

    def close(self) -> None:
        pass


def make_engine(workers: int | None = None, cluster: str | None = None):
    if cluster:
        return RayEngine(None if cluster == "local" else cluster)
    if workers == 1:
        return SerialEngine()
    return PoolEngine(workers)


__all__ = ["PoolEngine", "RayEngine", "SerialEngine", "chunk_size", "make_engine"]
