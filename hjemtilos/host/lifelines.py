"""Processes that end with the process that started them (Linux's parent-death signal). Small on purpose: the
warm worker's supervisor imports it without the rest of the application."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["PR_SET_PDEATHSIG", "die_with_parent"]

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec hook that makes Linux send the child SIGTERM when the process that started it dies, also by
    SIGKILL (the children run in sessions of their own, so a terminal's Ctrl-C reaches only `hjemtilos up`, which
    stops them in order; this covers the parent that cannot). The libc call is looked up before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:  # subprocess runs it after any change of user (which would clear the request)
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), sig)

    return hook
