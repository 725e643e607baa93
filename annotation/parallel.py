"""Run a function over many items in worker processes, in order, with a progress bar."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import TypeVar

import cv2
from tqdm import tqdm

__all__ = ["run_parallel"]

T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would only compete


def run_parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 1,
    desc: str = "",
    progress: bool = True,
) -> list[R]:
    """``[fn(x) for x in items]`` over ``workers`` processes (in this process when ``workers <= 1``).

    ``fn`` must be a module-level function; results come back in the order of ``items``.
    """
    bar = tqdm(total=len(items), desc=desc, disable=not progress, unit="img", dynamic_ncols=True)
    results: list[R] = []
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                results.append(fn(item))
                bar.update(1)
            return results
        chunk = max(1, min(32, len(items) // (workers * 8)))
        # spawn, not fork: forking a process that already runs OpenCV's or torch's thread pools can deadlock
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for r in pool.imap(fn, items, chunksize=chunk):
                results.append(r)
                bar.update(1)
        return results
    finally:
        bar.close()
