"""The command a worker runs for a flow run: ``python -m hjemtilos.host.flow_process`` (the deployments' job variable
``command``, flows/deployments.py).

It runs Prefect's own engine entry point (``python -m prefect.engine``) in this one interpreter, instead of the
process worker's default, which boots Python twice (its workspace supervisor, then the engine). Before that it ties
the run's process to the processes that own it: when its worker dies (also by SIGKILL), or the ``hjemtilos up``
that started the worker (``HJEMTILOS_SUPERVISOR_PID``), the flow process gets SIGTERM. Prefect's engine turns that
into a Crashed run where the API still answers; where it does not, the next ``up`` reschedules the run it finds
Running (hjemtilos/adapters/prefect.py, recover_orphaned_runs).

The watch uses Linux pidfds (``os.pidfd_open``): a pidfd names one process, so a reused PID cannot fool it.
"""

from __future__ import annotations

import os
import runpy
import select
import signal
import threading

SUPERVISOR_PID = "HJEMTILOS_SUPERVISOR_PID"


def _watch(fds: list[int], up_fd: int) -> None:
    ready, _, _ = select.select(fds, [], [])  # a pidfd becomes readable when its process has exited
    # with `hjemtilos up` gone there is no server to tell of the crash: end at once (the next up reschedules it)
    os.kill(os.getpid(), signal.SIGKILL if up_fd in ready else signal.SIGTERM)


def die_with_owners(env: dict[str, str] | None = None) -> list[int]:
    """Send this process SIGTERM as soon as its parent or the supervisor named in ``HJEMTILOS_SUPERVISOR_PID``
    exits; returns the PIDs watched. A watched process that is already gone sends it at once. Without pidfds
    (not Linux) nothing is watched."""
    env = dict(os.environ) if env is None else env
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return []
    pids = {os.getppid()}
    supervisor = env.get(SUPERVISOR_PID, "")
    if supervisor.isdigit():
        pids.add(int(supervisor))
    fds: list[int] = []
    up_fd = -1
    for pid in sorted(pids):
        if pid <= 1:  # orphaned already, or the supervisor is init: nothing to follow
            continue
        try:
            fds.append(pidfd_open(pid))
            if supervisor.isdigit() and pid == int(supervisor):
                up_fd = fds[-1]
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGTERM)
            return [pid]
        except OSError:  # pidfds unsupported by this kernel
            continue
    if fds:
        threading.Thread(target=_watch, args=(fds, up_fd), name="die-with-owners", daemon=True).start()
    return sorted(pids)


def main() -> None:
    die_with_owners()
    runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
