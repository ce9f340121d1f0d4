"""Write and read a Panko database with Panko 10.0.0's own code (run in the Panko venv).

This script runs under the interpreter of the separate Panko virtualenv (see
``tests/fixtures/build-panko-venv.sh``), never under pipeline's: it imports Panko and
nothing of pipeline's or pytest's. Events travel as JSON lines::

    {"message_id": ..., "event_type": ..., "generated": "ISO 8601",
     "traits": [[name, dtype, value], ...], "raw": {...}}

with datetimes as ISO 8601 text (naive, UTC). ``URL`` is any of Panko's
storage URLs: an SQLAlchemy one, or ``mongodb://HOST/NAME`` for Panko's
MongoDB driver (which needs pymongo 3, installed in the Panko virtualenv by
``tests/fixtures/panko-venv-extra.txt``). Commands:

``write URL``
    create Panko's schema at ``URL`` (``upgrade()``: tables, or MongoDB's
    ``event`` collection and its index) and store the events read
    from standard input with ``record_events``, each trait built as Panko's
    API and Ceilometer's converter build them
    (``Trait(name, dtype, Trait.convert_value(dtype, value))``, which cuts
    text at 255 characters);
``read URL``
    print every event Panko's ``get_events`` returns, traits in its order.
"""

import datetime
import json
import sys

from panko import service, storage
from panko.storage import models

BATCH = 500


def _connection(url):
    conf = service.prepare_service(argv=[], config_files=[])
    conf.set_override("connection", url, group="database")
    conf.set_override("max_retries", 1, group="database")
    return storage.get_connection_from_config(conf)


def _parse_time(text):
    return datetime.datetime.fromisoformat(text)


def _trait(name, dtype, value):
    if dtype == models.Trait.DATETIME_TYPE:
        value = _parse_time(value)
        return models.Trait(name, dtype, value)
    return models.Trait(name, dtype, models.Trait.convert_value(dtype, value))


def _event(item):
    return models.Event(
        item["message_id"],
        item["event_type"],
        _parse_time(item["generated"]),
        [_trait(*trait) for trait in item["traits"]],
        item.get("raw") or {},
    )


def write(url, out):
    conn = _connection(url)
    conn.upgrade()
    batch = []
    for line in sys.stdin:
        if line.strip():
            batch.append(_event(json.loads(line)))
        if len(batch) >= BATCH:
            conn.record_events(batch)
            batch = []
    if batch:
        conn.record_events(batch)


def _value(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def read(url, out):
    conn = _connection(url)
    for event in conn.get_events(storage.EventFilter()):
        item = {
            "message_id": event.message_id,
            "event_type": event.event_type,
            "generated": _value(event.generated),
            "traits": [[t.name, t.dtype, _value(t.value)] for t in event.traits],
            "raw": event.raw,
        }
        out.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    # Panko's logging writes to sys.stdout as it finds it: give it stderr,
    # keep stdout for the events.
    stdout, sys.stdout = sys.stdout, sys.stderr
    command, target = sys.argv[1], sys.argv[2]
    {"write": write, "read": read}[command](target, stdout)
