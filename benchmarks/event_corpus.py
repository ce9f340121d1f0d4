"""Seeded generator of realistic stored events (what the converter would emit).

Each event carries the traits Ceilometer's event definitions pull out of
nova, glance, cinder, neutron and keystone notifications: about fifteen per
event, mixing text (ids, names, states), integers (sizes, counts), floats
and datetimes. The same seed always yields the same events, with unique
message ids, ``generated`` spread over the last day.

    from event_corpus import events
    batch = events(1000, seed=1)
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable

from pipeline.models import UTC, Event, Trait

TEXT, INT, FLOAT, DATETIME = Trait.TEXT_TYPE, Trait.INT_TYPE, Trait.FLOAT_TYPE, Trait.DATETIME_TYPE
START = dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
HOSTS = [f"compute-{rack:02d}-{slot:02d}.dc1.example.net" for rack in range(8) for slot in range(6)]
FLAVORS = [("m1.small", 2048, 1, 20), ("m1.medium", 4096, 2, 40), ("m1.large", 8192, 4, 80)]
STATES = ["active", "building", "deleted", "error", "shutoff"]


class _Maker:
    """Draws ids, times and names from one seeded random generator."""

    def __init__(self, seed: int, days: int = 1) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.projects = [self.uuid() for _ in range(40)]
        self.users = [self.uuid() for _ in range(200)]

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def when(self) -> dt.datetime:
        """A time in the ``days`` days that end with START's day."""
        offset = self.rng.randrange(self.days * 86_400 * 10**6)
        return START - dt.timedelta(days=self.days - 1) + dt.timedelta(microseconds=offset)

    def common(self, service: str) -> list[Trait]:
        return [
            Trait("project_id", TEXT, self.rng.choice(self.projects)),
            Trait("user_id", TEXT, self.rng.choice(self.users)),
            Trait("request_id", TEXT, f"req-{self.uuid()}"),
            Trait("service", TEXT, f"{service}.{self.rng.choice(HOSTS)}"),
        ]


def _nova(m: _Maker) -> tuple[str, list[Trait]]:
    name, memory, vcpus, disk = m.rng.choice(FLAVORS)
    action = m.rng.choice(["create.end", "delete.end", "resize.confirm.end", "power_off.end"])
    launched = m.when()
    return f"compute.instance.{action}", m.common("compute") + [
        Trait("instance_id", TEXT, m.uuid()),
        Trait("display_name", TEXT, f"vm-{m.rng.randrange(10**6)}"),
        Trait("host", TEXT, m.rng.choice(HOSTS)),
        Trait("instance_type", TEXT, name),
        Trait("memory_mb", INT, memory),
        Trait("vcpus", INT, vcpus),
        Trait("root_gb", INT, disk),
        Trait("ephemeral_gb", INT, 0),
        Trait("state", TEXT, m.rng.choice(STATES)),
        Trait("launched_at", DATETIME, launched),
        Trait("audit_period_ending", DATETIME, launched + dt.timedelta(hours=1)),
        Trait("progress", FLOAT, round(m.rng.random() * 100, 2)),
    ]


def _glance(m: _Maker) -> tuple[str, list[Trait]]:
    return f"image.{m.rng.choice(['upload', 'update', 'delete'])}", m.common("image") + [
        Trait("resource_id", TEXT, m.uuid()),
        Trait("name", TEXT, m.rng.choice(["cirros", "ubuntu-24.04", "debian-13", "fedora-41"])),
        Trait("size", INT, m.rng.randrange(10**7, 10**10)),
        Trait("status", TEXT, m.rng.choice(["active", "queued", "deleted"])),
        Trait("disk_format", TEXT, m.rng.choice(["qcow2", "raw"])),
        Trait("container_format", TEXT, "bare"),
        Trait("created_at", DATETIME, m.when()),
        Trait("updated_at", DATETIME, m.when()),
        Trait("min_ram", INT, m.rng.choice([0, 512, 1024])),
        Trait("checksum_ratio", FLOAT, m.rng.random()),
        Trait("visibility", TEXT, m.rng.choice(["public", "private", "shared"])),
    ]


def _cinder(m: _Maker) -> tuple[str, list[Trait]]:
    return f"volume.{m.rng.choice(['create.end', 'delete.end', 'attach.end'])}", m.common(
        "volume"
    ) + [
        Trait("resource_id", TEXT, m.uuid()),
        Trait("display_name", TEXT, f"vol-{m.rng.randrange(10**6)}"),
        Trait("size", INT, m.rng.choice([1, 10, 50, 100, 500])),
        Trait("status", TEXT, m.rng.choice(["available", "in-use", "deleting"])),
        Trait("availability_zone", TEXT, m.rng.choice(["nova", "az1", "az2"])),
        Trait("volume_type", TEXT, m.rng.choice(["ssd", "hdd"])),
        Trait("host", TEXT, f"cinder@lvm#{m.rng.choice(HOSTS)}"),
        Trait("created_at", DATETIME, m.when()),
        Trait("launched_at", DATETIME, m.when()),
        Trait("replication_lag", FLOAT, m.rng.random() * 5),
        Trait("snapshot_count", INT, m.rng.randrange(5)),
    ]


def _neutron(m: _Maker) -> tuple[str, list[Trait]]:
    kind = m.rng.choice(["port", "network", "floatingip"])
    mac = ":".join(f"{m.rng.randrange(256):02x}" for _ in range(6))
    return f"{kind}.{m.rng.choice(['create.end', 'update.end', 'delete.end'])}", m.common(
        "network"
    ) + [
        Trait("resource_id", TEXT, m.uuid()),
        Trait("network_id", TEXT, m.uuid()),
        Trait("device_id", TEXT, m.uuid()),
        Trait("mac_address", TEXT, mac),
        Trait("device_owner", TEXT, m.rng.choice(["compute:nova", "network:dhcp"])),
        Trait("admin_state_up", INT, 1),
        Trait("mtu", INT, m.rng.choice([1450, 1500, 9000])),
        Trait("fixed_ip", TEXT, f"10.{m.rng.randrange(256)}.{m.rng.randrange(256)}.7"),
        Trait("created_at", DATETIME, m.when()),
        Trait("qos_max_kbps", FLOAT, float(m.rng.choice([1000, 10000, 100000]))),
        Trait("status", TEXT, m.rng.choice(["ACTIVE", "DOWN", "BUILD"])),
    ]


def _keystone(m: _Maker) -> tuple[str, list[Trait]]:
    return "identity.authenticate", m.common("identity") + [
        Trait("initiator_id", TEXT, m.rng.choice(m.users)),
        Trait("initiator_host_address", TEXT, f"192.0.2.{m.rng.randrange(256)}"),
        Trait("initiator_host_agent", TEXT, "python-keystoneclient/5.4 openstacksdk/4.1"),
        Trait("action", TEXT, "authenticate"),
        Trait("outcome", TEXT, m.rng.choice(["success", "success", "success", "failure"])),
        Trait("observer_id", TEXT, m.uuid()),
        Trait("target_id", TEXT, m.uuid()),
        Trait("eventTime", DATETIME, m.when()),
        Trait("token_ttl", INT, 3600),
        Trait("latency", FLOAT, m.rng.random() / 10),
        Trait("domain_id", TEXT, "default"),
    ]


#: Services weighted roughly as in a busy cloud: nova and neutron dominate.
SERVICES: list[tuple[Callable[[_Maker], tuple[str, list[Trait]]], int]] = [
    (_nova, 40),
    (_neutron, 25),
    (_keystone, 15),
    (_cinder, 12),
    (_glance, 8),
]


def events(count: int, seed: int = 0, days: int = 1) -> list[Event]:
    """``count`` events with unique message ids; the same seed gives the same list.

    ``generated`` is spread over ``days`` days ending with 2026-11-24 (UTC).
    """
    maker = _Maker(seed, days)
    makers = [make for make, _ in SERVICES]
    weights = [weight for _, weight in SERVICES]
    result = []
    for _ in range(count):
        event_type, traits = maker.rng.choices(makers, weights)[0](maker)
        result.append(Event(maker.uuid(), event_type, maker.when(), tuple(traits)))
    return result
