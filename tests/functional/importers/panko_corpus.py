"""Events to write into a Panko database: every trait type, edge values, many event types.

Shaped as ``tests/panko_tool.py`` takes them (datetimes as naive UTC ISO
text). Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

EVENT_TYPES = [
    "compute.instance.create.end",
    "compute.instance.delete.end",
    "compute.instance.update",
    "compute.instance.resize.confirm.end",
    "image.upload",
    "image.delete",
    "volume.create.end",
    "volume.attach.end",
    "snapshot.create.end",
    "network.create.end",
    "port.update.end",
    "floatingip.create.end",
    "identity.user.created",
    "orchestration.stack.create.end",
]
TEXTS = [
    "",
    "active",
    "ünïcødé ✓ 日本語 \U0001f600",
    "quote ' and \" and \\ and\nnewline",
    "x" * 254,
    "y" * 255,
    "z" * 256,
    "long " * 200,
]
INTS = [0, -1, 1, 2048, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)]
FLOATS = [0.0, 0.1, -2.5e300, 5e-324, 1.0, 3.141592653589793, -7.25]
T0 = dt.datetime(2026, 3, 1, 12, 0, 0)
DATETIMES = [
    T0,
    T0.replace(microsecond=1),
    T0.replace(microsecond=999999),
    dt.datetime(1970, 1, 1),
    dt.datetime(2099, 12, 31, 23, 59, 59, 500000),
]


def panko_events(count: int, seed: int = 15, start: dt.datetime = T0) -> list[dict[str, Any]]:
    """``count`` events over every event type; every trait type in every event but a few."""
    rng = random.Random(seed)
    events = []
    for number in range(count):
        generated = start + dt.timedelta(seconds=number * 7, microseconds=rng.choice([0, 123456]))
        traits: list[list[Any]] = []
        if number % 97 != 5:  # a few events without any trait
            traits = [
                ["state", 1, rng.choice(TEXTS)],
                ["host", 1, f"compute-{number % 13}"],
                ["memory_mb", 2, rng.choice(INTS)],
                ["disk_gb", 2, number],
                ["ratio", 3, rng.choice(FLOATS)],
                ["launched_at", 4, rng.choice(DATETIMES).isoformat()],
                [f"extra_{number % 5}", 1 + number % 4, _value(1 + number % 4, rng)],
            ]
        events.append(
            {
                "message_id": f"msg-{seed}-{number:06d}",
                "event_type": EVENT_TYPES[number % len(EVENT_TYPES)],
                "generated": generated.isoformat(),
                "traits": traits,
                "raw": {"payload": {"n": number}, "priority": "INFO"} if number % 5 == 0 else {},
            }
        )
    return events


def _value(dtype: int, rng: random.Random) -> Any:
    if dtype == 1:
        return rng.choice(TEXTS)
    if dtype == 2:
        return rng.choice(INTS)
    if dtype == 3:
        return rng.choice(FLOATS)
    return rng.choice(DATETIMES).isoformat()
