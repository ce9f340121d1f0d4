"""CPU time of a PostgreSQL database's server processes, for benchmarks on this host.

PostgreSQL runs one process per session; their user + system CPU time is
read from ``/proc/<pid>/stat`` (so the server must run on this host, as
the services here do). What the sessions of one database spent between
:meth:`ServerCPU.start` and :meth:`ServerCPU.seconds` is PostgreSQL's own
work for that run, apart from the client's.
"""

from __future__ import annotations

import os

import psycopg


class ServerCPU:
    """CPU seconds the server processes of one PostgreSQL database used since :meth:`start`."""

    def __init__(self, admin_url: str, database: str) -> None:
        self.admin_url, self.database = admin_url, database
        self._before: dict[int, float] = {}

    def _sessions(self) -> dict[int, float]:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            pids = [row[0] for row in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))]
        return {pid: _cpu_seconds(pid) for pid in pids}

    def start(self) -> None:
        """Note the sessions' CPU time now (call once they are connected)."""
        self._before = self._sessions()

    def seconds(self) -> float:
        """CPU seconds since :meth:`start` of the sessions open now (new ones: all of theirs)."""
        return sum(cpu - self._before.get(pid, 0.0) for pid, cpu in self._sessions().items())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0 when it is gone or not ours to read)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
