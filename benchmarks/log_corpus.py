"""A seeded corpus of log records shaped like logbook's MessageQueueHandler JSON.

About 200 call sites across a dozen services, each with a channel, module,
function, file, line, level and message template; records pick a site with
a Zipf distribution (a few sites fire most of the time, as in real logs) and
fill the template with varying numbers, ids, hosts and paths. Some sites
log an exception. The same seed gives the same records.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

SERVICES = ("nova", "neutron", "cinder", "glance", "keystone", "heat", "swift", "octavia",
            "placement", "ironic", "manila", "designate")
TEMPLATES = (
    "Instance {uuid} failed to spawn on {host}",
    "Disk {n} full on {path}",
    "Timed out after {n}s waiting for {host}:{port}",
    "Quota exceeded for project {hex}: {n} of {n} used",
    "Cannot connect to {ip}:{port}: connection refused",
    "Lock '{word}' held for {n}.{n}s",
    "Request {uuid} returned HTTP {code}",
    "Volume {uuid} stuck in state '{word}'",
    "Retrying {word} ({n} of {n})",
    "Unexpected response from {host}: {code}",
)
EXCEPTIONS = (None, None, None, "builtins.ValueError", "builtins.KeyError",
              "oslo_messaging.exceptions.MessagingTimeout", "sqlalchemy.exc.OperationalError")
LEVELS = (14, 14, 14, 13, 13, 15, 11)  # mostly ERROR, some WARNING, CRITICAL, INFO
WORDS = ("attaching", "deleting", "compute", "scheduler", "reserve", "resize", "migrate")


@dataclass(frozen=True)
class CallSite:
    """One logging call in some service's code."""

    channel: str
    module: str
    func_name: str
    filename: str
    lineno: int
    level: int
    template: str
    exception_name: str | None


def call_sites(count: int, rng: random.Random) -> list[CallSite]:
    """``count`` distinct call sites."""
    sites = []
    for n in range(count):
        service = SERVICES[n % len(SERVICES)]
        module = f"{service}.{rng.choice(('api', 'compute', 'db', 'common', 'agent'))}.m{n}"
        sites.append(CallSite(
            channel=module, module=module, func_name=f"handler_{n}",
            filename=f"/usr/lib/python3/site-packages/{module.replace('.', '/')}.py",
            lineno=rng.randint(10, 2000), level=rng.choice(LEVELS),
            template=rng.choice(TEMPLATES), exception_name=rng.choice(EXCEPTIONS),
        ))
    return sites


def _fill(template: str, rng: random.Random) -> str:
    values = {
        "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        "host": lambda: f"compute-{rng.randint(1, 500)}.example.org",
        "n": lambda: str(rng.randint(0, 10000)),
        "path": lambda: f"/var/lib/{rng.choice(WORDS)}/{rng.randint(1, 99)}",
        "port": lambda: str(rng.choice((5672, 3306, 5432, 8774, 9696))),
        "hex": lambda: f"{rng.getrandbits(64):016x}",
        "ip": lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "word": lambda: rng.choice(WORDS),
        "code": lambda: str(rng.choice((400, 404, 409, 500, 503))),
    }
    out = template
    for key, make in values.items():
        while "{" + key + "}" in out:
            out = out.replace("{" + key + "}", make(), 1)
    return out


def records(count: int, seed: int = 0, sites: int = 200, skew: float = 1.1) -> list[dict[str, Any]]:
    """``count`` log-record dicts from ``sites`` call sites, Zipf(``skew``)-distributed."""
    rng = random.Random(seed)
    found = call_sites(sites, rng)
    weights = [1.0 / (rank + 1) ** skew for rank in range(sites)]
    start = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    chosen = rng.choices(found, weights, k=count)
    out = []
    for n, site in enumerate(chosen):
        message = _fill(site.template, rng)
        when = start + dt.timedelta(milliseconds=n * 7 + rng.randint(0, 50))
        out.append({
            "channel": site.channel, "level": site.level, "msg": site.template, "args": [],
            "kwargs": {}, "message": message, "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "filename": site.filename, "lineno": site.lineno, "module": site.module,
            "func_name": site.func_name, "process": 4242, "thread": 1, "thread_name": "MainThread",
            "exception_name": site.exception_name,
            "exception_message": message if site.exception_name else None,
            "formatted_exception": (f"Traceback (most recent call last):\n  ...\n"
                                    f"{site.exception_name}: {message}"
                                    if site.exception_name else None),
            "extra": {"request_id": f"req-{uuid.UUID(int=rng.getrandbits(128))}"},
        })
    return out
