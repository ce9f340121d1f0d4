"""Reaching the real servers the functional tests use, one isolated database each.

Every helper here creates a database (or MongoDB database name) that only the
calling test uses, and drops it afterwards, so tests can run in parallel
(pytest -n) and in any order. A server that cannot be reached skips the test
locally and fails it when ``CI=true``: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("PIPELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("PIPELINE_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("PIPELINE_TEST_MYSQL_PORT", "3306"))
AMQP_URL = os.environ.get("PIPELINE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
MONGO_URL = os.environ.get("PIPELINE_TEST_MONGO")  # else a secantusd is started


def in_ci() -> bool:
    """True when running under CI, where a missing server is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, err: BaseException | str) -> None:
    """Skip (locally) or fail (in CI) because ``what`` cannot be reached."""
    message = f"{what} unavailable: {err}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def unique_name(prefix: str = "pipeline_t") -> str:
    """A database name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def postgresql_database() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its SQLAlchemy URL."""
    try:
        import psycopg
    except ImportError as err:  # pragma: no cover - test extra missing
        unavailable("psycopg", err)
    name = unique_name()
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        unavailable("PostgreSQL", err)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def allow_postgresql_connections(url: str, allow: bool) -> None:
    """Make the database of ``url`` accept new connections, or refuse them all.

    Refusing (``ALTER DATABASE ... ALLOW_CONNECTIONS false``) also ends the
    open sessions: to its clients the database is down, and only the
    calling test's database is touched.
    """
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


@contextlib.contextmanager
def mysql_database() -> Iterator[str]:
    """A fresh MariaDB/MySQL database; yields its SQLAlchemy URL."""
    try:
        import pymysql
    except ImportError as err:  # pragma: no cover
        unavailable("PyMySQL", err)
    name = unique_name()

    def admin() -> pymysql.connections.Connection:
        return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="",
                               connect_timeout=5, autocommit=True)

    try:
        conn = admin()
    except pymysql.err.OperationalError as err:
        unavailable("MariaDB", err)
    with conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}?charset=utf8mb4"
    finally:
        with admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mongodb_server() -> Iterator[str]:
    """A MongoDB-protocol server for the session; yields its base URL.

    Uses ``PIPELINE_TEST_MONGO`` when set (e.g. a real MongoDB), otherwise
    starts SecantusDB (a test-only dependency, never imported by pipeline)
    on a free loopback port with in-memory storage.
    """
    if MONGO_URL:
        yield MONGO_URL
        return
    # Beside the running interpreter first: a venv's bin is often not on PATH.
    beside = os.path.join(os.path.dirname(sys.executable), "secantusd-py")
    binary = beside if os.access(beside, os.X_OK) else shutil.which("secantusd-py")
    if binary is None:
        unavailable("MongoDB", "secantusd-py not installed (pip install '.[test]')")
    assert binary is not None
    port = free_port()
    log_path = os.path.join(tempfile.gettempdir(), f"secantusd-{port}.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port, 0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable("MongoDB", f"secantusd-py did not start; see {log_path}")
            time.sleep(0.1)
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def mongodb_database(server_url: str) -> Iterator[str]:
    """A database name of its own on ``server_url``; dropped afterwards."""
    try:
        import pymongo
    except ImportError as err:  # pragma: no cover
        unavailable("pymongo", err)
    name = unique_name()
    try:
        yield f"{server_url.rstrip('/')}/{name}"
    finally:
        with contextlib.suppress(Exception):
            client: pymongo.MongoClient = pymongo.MongoClient(server_url, serverSelectionTimeoutMS=3000)
            client.drop_database(name)
            client.close()


@contextlib.contextmanager
def sqlite_database(directory: str) -> Iterator[str]:
    """A fresh SQLite file under ``directory``."""
    yield f"sqlite:///{os.path.join(directory, unique_name())}.sqlite"
