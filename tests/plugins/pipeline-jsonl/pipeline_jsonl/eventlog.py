"""The directory behind a ``jsonl://`` URL: one append-only file, one lock file.

``events.jsonl`` holds one event per line. Writers append under an
exclusive ``flock`` on ``.lock``; readers hold a shared one, so several
processes (consumer workers, the API, ``pipeline expire``) can use the same
directory. Deleting rewrites the file into a temporary one and renames it
over the old, so a crash never leaves half a file. A damaged line (say, a
write torn by a power cut) is logged and skipped; it never hides the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
from collections.abc import Iterable, Iterator

from pipeline.exceptions import StorageUnavailable
from pipeline.models import Event
from pipeline_jsonl import codec

LOG = logging.getLogger(__name__)
EVENTS_FILE = "events.jsonl"
LOCK_FILE = ".lock"


class EventLog:
    """Events of one directory, parsed once and re-read only when the file changed."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self.path = directory / EVENTS_FILE
        self._signature: tuple[int, int, int] | None = None
        self._events: dict[str, Event] = {}

    @contextlib.contextmanager
    def locked(self, exclusive: bool) -> Iterator[None]:
        """Hold the directory's lock; OSError becomes StorageUnavailable."""
        try:
            if exclusive:
                self.directory.mkdir(parents=True, exist_ok=True)
            elif not self.directory.is_dir():
                # Nothing written yet: reading an empty store needs no lock.
                yield
                return
            with open(self.directory / LOCK_FILE, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
        except OSError as err:
            raise StorageUnavailable(f"jsonl store {self.directory}: {err}") from err

    def events(self) -> dict[str, Event]:
        """Stored events by message id (call while holding the lock)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._signature, self._events = None, {}
            return self._events
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if signature != self._signature:
            self._events = self._parse()
            self._signature = signature
        return self._events

    def _parse(self) -> dict[str, Event]:
        found: dict[str, Event] = {}
        with open(self.path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    event = codec.decode(line)
                except ValueError as err:
                    LOG.warning("%s:%d skipped: %s", self.path, number, err)
                    continue
                found.setdefault(event.message_id, event)
        return found

    def append(self, events: Iterable[Event]) -> None:
        """Append ``events`` (call while holding the exclusive lock)."""
        text = "".join(codec.encode(event) for event in events)
        with open(self.path, "a+b") as out:
            if out.tell() > 0:
                out.seek(-1, os.SEEK_END)
                if out.read(1) != b"\n":
                    # A torn last line must not swallow the first new event.
                    text = "\n" + text
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())

    def rewrite(self, events: Iterable[Event]) -> None:
        """Replace the file's content by ``events`` (hold the exclusive lock)."""
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            out.writelines(codec.encode(event) for event in events)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

    def remove(self) -> None:
        """Delete the events file (hold the exclusive lock)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._signature, self._events = None, {}
