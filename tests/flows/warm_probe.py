"""A flow for the warm-worker tests only: it logs the value of a module the zygote preloaded (so a changed module
shows whether the run used the new code), and can sleep (so it can be cancelled while it runs)."""

from __future__ import annotations

import os
import time

from prefect import flow, get_run_logger


@flow(name="warm-probe")
def warm_probe(sleep_seconds: float = 0.0) -> int:
    import warm_probe_value  # type: ignore[import-not-found]  # on the worker's PYTHONPATH, written by the test

    logger = get_run_logger()
    logger.info("warm probe value %s in process %s", warm_probe_value.VALUE, os.getpid())
    deadline = time.monotonic() + sleep_seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
    return int(warm_probe_value.VALUE)
