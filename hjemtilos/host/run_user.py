"""Who runs what when ``hjemtilos up`` runs as root: the system users and the folders they may reach.

Run as root, ``up`` keeps the Prefect server, the front door, the workspace and the mail catcher as root (they hold
the auth string, the accounts and the caught mail), runs PostgreSQL as ``hjemtilos-pg`` (hjemtilos/host/embedded_pg.py)
and runs **the worker, the zygote and every flow run as ``hjemtilos-run``**: a system user with no shell and no
home outside the data folder, whose only ways in are

- its own folder ``<data>/worker`` (0700: its Prefect home, where Prefect's worker keeps its state);
- the case database: on the embedded PostgreSQL as the role ``hjemtilos_run`` (no superuser, no DDL, the case
  tables only: no accounts' secrets, no sessions, no sign-in links, no Prefect database), through a socket folder of
  its own (``<data>/pg-run``); on the embedded SQLite through ``<data>/cases`` (group ``hjemtilos-run``);
- Prefect's API, with the auth string in its environment.

The data folder itself is ``0710 root:hjemtilos`` (the shared group of both system users): they pass through it
to what is theirs and can list or read nothing else in it. Run by anyone else, ``up`` cannot change user and
everything runs as that user, in a data folder that only that user reaches.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hjemtilos import PROJECT_ROOT

RUN_USER = "hjemtilos-run"  # the worker, the zygote and the flow runs
SHARED_GROUP = "hjemtilos"  # may pass through the data folder: hjemtilos-pg and hjemtilos-run
WORKER_HOME = "worker"  # <data>/worker: the run user's own folder
CASES_FOLDER = "cases"  # <data>/cases: the embedded SQLite case database, shared with the run user
RUN_SOCKETS = "pg-run"  # <data>/pg-run: the embedded PostgreSQL's socket for the run user


def as_root() -> bool:
    return os.geteuid() == 0


def system_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        # another `up` starting at the same moment may create it first: then it exists, which is all we need
        made = subprocess.run(["groupadd", "--system", name], check=False, capture_output=True, text=True)
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            raise SystemExit(f"Could not create the system group {name} (groupadd: {made.stderr.strip()[:200]}); "
                             "create it by hand, or run 'hjemtilos up' as an ordinary user.") from None


def system_user(name: str) -> pwd.struct_passwd:
    """The system user ``name`` (created, with a group of its own, no home and no shell, the first time)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                               "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                              check=False, capture_output=True, text=True)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise SystemExit(f"Could not create the system user {name} (useradd: {made.stderr.strip()[:200]}); "
                             "create it by hand, or run 'hjemtilos up' as an ordinary user.") from None


def open_path_for(paths: list[Path]) -> None:
    """Let the system users reach ``paths``: add o+x (pass through, never list) to each folder above them."""
    for path in paths:
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)


def close_data_folder(data_dir: Path, shared: set[str]) -> None:
    """The data folder passable by the shared group only, and every entry in it not named in ``shared``
    reachable by its owner only (files written before, by anyone's umask, included)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if as_root():
        os.chown(data_dir, 0, system_group(SHARED_GROUP))
        data_dir.chmod(0o710)
    else:
        data_dir.chmod(0o700)
    for entry in data_dir.iterdir():
        if entry.name in shared or entry.is_symlink():
            continue
        mode = entry.stat().st_mode
        if mode & 0o077:
            entry.chmod(mode & 0o700)


@dataclass(frozen=True)
class RunAs:
    """The run user: what ``subprocess.Popen`` needs to start a process as that user, and its folder."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: Path

    def popen_kwargs(self) -> dict[str, object]:
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` for the run user: its own home and Prefect home, none of the Prefect server's database settings."""
        own = {k: v for k, v in env.items() if not k.startswith("PREFECT_SERVER_DATABASE")}
        own.update(HOME=str(self.home), PREFECT_HOME=str(self.home / "prefect"), USER=RUN_USER, LOGNAME=RUN_USER)
        return own


def prepare_run_user(data_dir: Path) -> RunAs | None:
    """As root: the run user, its folder under ``data_dir`` and a way to the interpreter and the project. Else
    None (everything runs as the user who started ``up``)."""
    if not as_root():
        return None
    user = system_user(RUN_USER)
    shared = system_group(SHARED_GROUP)
    home = data_dir / WORKER_HOME
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    for folder in (home, home / "prefect"):
        os.chown(folder, user.pw_uid, user.pw_gid)
        folder.chmod(0o700)
    open_path_for([data_dir, PROJECT_ROOT / "pyproject.toml", Path(sys.executable).resolve(),
                   Path(sys.executable)])
    return RunAs(user.pw_uid, user.pw_gid, (shared,), home)


def share_cases_folder(folder: Path, run: RunAs | None) -> None:
    """The embedded SQLite's folder: readable and writable by the run user's group (setgid, so SQLite's -wal and
    -shm files get that group too), or the owner's alone when nobody else runs flows."""
    folder.mkdir(parents=True, exist_ok=True)
    if run is None:
        folder.chmod(0o700)
        return
    os.chown(folder, 0, run.gid)
    folder.chmod(0o2770)
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            os.chown(entry, -1, run.gid)
            entry.chmod(0o660)
