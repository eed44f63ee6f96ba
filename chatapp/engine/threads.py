"""Choose llama.cpp thread counts that leave headroom for the GUI.

Measured here (see ../shared/notes/engine.md): on 2 cores, 2 llama.cpp threads collapse from
81 to 26 tok/s (once to 0.3 tok/s) when another core is busy, e.g. the GUI rendering the reply,
while 1 thread holds 75 tok/s.  llama.cpp's threads spin-wait for each other, so one descheduled
thread stalls all of them.  We therefore never take every core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadChoice:
    """Thread counts for one model load.

    Attributes:
        n_threads: threads for generating one token at a time.
        n_threads_batch: threads for prompt processing (batches).
        cores: logical cores this process may run on.
        reason: why these numbers, for the status display.
    """

    n_threads: int
    n_threads_batch: int
    cores: int
    reason: str


def usable_cores() -> int:
    """Logical cores this process may run on (respects CPU affinity and cgroup pinning)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def choose_threads(
    n_threads: int | None = None, n_threads_batch: int | None = None, cores: int | None = None
) -> ThreadChoice:
    """Pick thread counts: the user's override where given, else leave cores for the GUI.

    - up to 8 cores: all but one (generation and prompt);
    - more: half the cores for generation (it is memory-bound; logical cores are often
      hyper-threads) and all but two for prompt processing (compute-bound).
    """
    cores = cores or usable_cores()
    if cores <= 8:
        gen, batch = max(1, cores - 1), max(1, cores - 1)
        reason = f"{cores} cores: one left free for the app"
    else:
        gen, batch = max(1, cores // 2), cores - 2
        reason = f"{cores} cores: half for generation, two left free for the app"
    if n_threads is not None or n_threads_batch is not None:
        reason = "set by the user"
    return ThreadChoice(
        n_threads=n_threads if n_threads is not None else gen,
        n_threads_batch=n_threads_batch if n_threads_batch is not None else (
            n_threads if n_threads is not None else batch
        ),
        cores=cores,
        reason=reason,
    )


def llama_cpp_default_threads(cores: int | None = None) -> ThreadChoice:
    """llama-cpp-python's own defaults (cores // 2 for generation, all cores for prompts)."""
    cores = cores or usable_cores()
    return ThreadChoice(max(1, cores // 2), cores, cores, "llama-cpp-python default")
