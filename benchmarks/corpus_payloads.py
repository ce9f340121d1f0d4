"""Payload builders of :mod:`benchmarks.corpus`, one table per service.

Each table maps an event type to ``builder(rng, event_type) -> payload``.
Field names and shapes follow the services' legacy notifications.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

_IDS = random.Random(20261123)  # fixed: the same projects and users in every corpus
PROJECTS = [uuid.UUID(int=_IDS.getrandbits(128), version=4).hex for _ in range(12)]
USERS = [uuid.UUID(int=_IDS.getrandbits(128), version=4).hex for _ in range(30)]
HOSTS = [f"node-{i:02d}.cloud.example" for i in range(16)]
_FLAVORS = [("m1.tiny", 512, 1, 1), ("m1.small", 2048, 1, 20), ("m1.medium", 4096, 2, 40),
            ("m1.large", 8192, 4, 80), ("m1.xlarge", 16384, 8, 160)]
_TIME = "2026-11-23T09:{:02d}:{:02d}.000000"


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _mac(rng: random.Random) -> str:
    return "fa:16:3e:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


def _time(rng: random.Random) -> str:
    return _TIME.format(rng.randrange(60), rng.randrange(60))


def project_of(payload: Any) -> str | None:
    """The project a payload belongs to, where the service says it."""
    if not isinstance(payload, dict):
        return None
    for candidate in (payload, *(v for v in payload.values() if isinstance(v, dict))):
        for key in ("tenant_id", "project_id", "owner"):
            if isinstance(candidate.get(key), str):
                return candidate[key]
    return None


def user_of(payload: Any) -> str | None:
    """The user a payload names, if any."""
    return payload.get("user_id") if isinstance(payload, dict) else None


# --- nova -------------------------------------------------------------------

def _instance(rng: random.Random, event_type: str) -> dict[str, Any]:
    name, memory_mb, vcpus, root_gb = rng.choice(_FLAVORS)
    ephemeral = rng.choice([0, 0, 10])
    deleted = ".delete." in event_type
    state = "deleted" if deleted and event_type.endswith(".end") else rng.choice(
        ["active", "building", "stopped", "resized"])
    payload = {
        "tenant_id": rng.choice(PROJECTS), "user_id": rng.choice(USERS),
        "instance_id": _id(rng), "display_name": f"vm-{rng.randrange(10000)}",
        "reservation_id": f"r-{rng.getrandbits(32):08x}", "hostname": f"vm-{rng.randrange(10000)}",
        "instance_type": name, "instance_type_id": _FLAVORS.index((name, memory_mb, vcpus, root_gb)) + 1,
        "instance_flavor_id": str(_FLAVORS.index((name, memory_mb, vcpus, root_gb)) + 1),
        "memory_mb": memory_mb, "vcpus": vcpus, "root_gb": root_gb, "ephemeral_gb": ephemeral,
        "disk_gb": root_gb + ephemeral, "host": rng.choice(HOSTS), "node": rng.choice(HOSTS),
        "availability_zone": "nova", "cell_name": "", "architecture": "x86_64", "os_type": "linux",
        "created_at": "2026-11-23 09:00:00+00:00", "launched_at": _time(rng),
        "terminated_at": _time(rng) if deleted else "", "deleted_at": _time(rng) if deleted else "",
        "state": state, "state_description": rng.choice(["", "powering-off", "spawning"]),
        "progress": "", "kernel_id": "", "ramdisk_id": "",
        "image_ref_url": f"http://glance.example:9292/images/{_id(rng)}",
        "image_meta": {"base_image_ref": _id(rng), "container_format": "bare",
                       "disk_format": "qcow2", "min_disk": str(root_gb), "min_ram": "0",
                       "org.openstack__1__architecture": "x86_64",
                       "org.openstack__1__os_distro": "ubuntu"},
        "metadata": {"role": rng.choice(["web", "db", "batch"])},
        "access_ip_v4": None, "access_ip_v6": None,
        "fixed_ips": [{"address": f"10.1.{rng.randrange(256)}.{rng.randrange(2, 250)}",
                       "floating_ips": [], "label": "private", "meta": {}, "type": "fixed",
                       "version": 4, "vif_mac": _mac(rng)}],
    }
    if event_type == "compute.instance.update":
        payload.update(old_state="building", old_task_state="spawning", new_task_state=None,
                       audit_period_beginning="2026-11-23T09:00:00.000000",
                       audit_period_ending="2026-11-23T10:00:00.000000",
                       bandwidth={})
    if event_type == "compute.instance.exists":
        payload.update(audit_period_beginning="2026-11-23T09:00:00.000000",
                       audit_period_ending="2026-11-23T10:00:00.000000")
    if event_type.startswith("compute.instance.resize"):
        new = rng.choice(_FLAVORS)
        payload.update(new_instance_type=new[0], new_instance_type_id=_FLAVORS.index(new) + 1)
    return payload


NOVA = {f"compute.instance.{action}": _instance for action in (
    "create.start", "create.end", "delete.start", "delete.end", "update",
    "resize.prep.start", "resize.prep.end", "resize.confirm.end", "finish_resize.end",
    "power_off.start", "power_off.end", "power_on.start", "power_on.end", "exists")}


# --- glance -----------------------------------------------------------------

def _image(rng: random.Random, event_type: str) -> dict[str, Any]:
    if event_type == "image.send":
        return {"bytes_sent": rng.randrange(10**6, 10**9), "image_id": _id(rng),
                "owner_id": rng.choice(PROJECTS), "receiver_tenant_id": rng.choice(PROJECTS),
                "receiver_user_id": rng.choice(USERS), "destination_ip": "10.0.0.7"}
    size = rng.randrange(10**7, 4 * 10**9)
    return {
        "id": _id(rng), "name": rng.choice(["ubuntu-24.04", "cirros-0.6", "fedora-41"]),
        "status": {"image.upload": "saving", "image.delete": "deleted"}.get(event_type, "active"),
        "container_format": "bare", "disk_format": "qcow2", "size": size,
        "virtual_size": size * 3, "checksum": f"{rng.getrandbits(128):032x}",
        "owner": rng.choice(PROJECTS), "visibility": rng.choice(["public", "private"]),
        "protected": False, "min_disk": 0, "min_ram": 0, "tags": [],
        "created_at": "2026-11-23T09:00:00Z", "updated_at": "2026-11-23T09:30:00Z",
        "deleted": event_type == "image.delete",
        "deleted_at": "2026-11-23T09:45:00Z" if event_type == "image.delete" else None,
        "properties": {"os_distro": "ubuntu", "hw_disk_bus": "virtio"},
    }


GLANCE = {event_type: _image for event_type in (
    "image.create", "image.prepare", "image.upload", "image.activate", "image.update",
    "image.delete", "image.send")}


# --- cinder -----------------------------------------------------------------

def _volume(rng: random.Random, event_type: str) -> dict[str, Any]:
    attached = event_type.startswith("volume.attach") and event_type.endswith(".end")
    return {
        "tenant_id": rng.choice(PROJECTS), "user_id": rng.choice(USERS),
        "host": f"{rng.choice(HOSTS)}@lvm#lvm", "availability_zone": "nova",
        "volume_id": _id(rng), "volume_type": _id(rng), "display_name": f"vol-{rng.randrange(999)}",
        "size": rng.choice([1, 10, 50, 100]), "status": "in-use" if attached else "available",
        "created_at": "2026-11-23T09:10:00+00:00", "launched_at": "2026-11-23T09:10:05+00:00",
        "snapshot_id": None, "replication_status": None, "replication_extended_status": None,
        "replication_driver_data": None, "metadata": [],
        "volume_attachment": [{"instance_uuid": _id(rng), "attached_host": None,
                               "mountpoint": "/dev/vdb", "attach_status": "attached",
                               "attach_time": "2026-11-23T09:20:00"}] if attached else [],
        "glance_metadata": [{"key": "image_id", "value": _id(rng)},
                            {"key": "image_name", "value": "cirros-0.6"}],
    }


def _snapshot(rng: random.Random, event_type: str) -> dict[str, Any]:
    return {
        "tenant_id": rng.choice(PROJECTS), "user_id": rng.choice(USERS),
        "availability_zone": "nova", "snapshot_id": _id(rng), "volume_id": _id(rng),
        "display_name": f"snap-{rng.randrange(999)}", "volume_size": rng.choice([1, 10, 50]),
        "status": "deleting" if ".delete." in event_type else "available",
        "created_at": "2026-11-23T09:15:00+00:00", "deleted": "", "metadata": "",
    }


CINDER = {
    **{f"volume.{a}": _volume for a in (
        "create.start", "create.end", "delete.start", "delete.end", "attach.start",
        "attach.end", "detach.end", "resize.end", "update.end")},
    **{f"snapshot.{a}": _snapshot for a in (
        "create.start", "create.end", "delete.start", "delete.end")},
}


# --- neutron ----------------------------------------------------------------

def _resource(rng: random.Random, kind: str) -> dict[str, Any]:
    project = rng.choice(PROJECTS)
    common = {"id": _id(rng), "tenant_id": project, "project_id": project,
              "created_at": "2026-11-23T09:05:00Z", "updated_at": "2026-11-23T09:05:00Z",
              "revision_number": rng.randrange(1, 9), "description": "", "tags": []}
    if kind == "network":
        return {**common, "name": f"net-{rng.randrange(99)}", "status": "ACTIVE",
                "admin_state_up": True, "shared": False, "mtu": 1450, "subnets": [_id(rng)],
                "provider:network_type": "vxlan", "provider:segmentation_id": rng.randrange(4096),
                "router:external": False, "availability_zones": ["nova"]}
    if kind == "subnet":
        return {**common, "name": "private-subnet", "network_id": _id(rng), "ip_version": 4,
                "cidr": f"10.{rng.randrange(256)}.0.0/24", "gateway_ip": "10.0.0.1",
                "enable_dhcp": True, "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.254"}]}
    if kind == "port":
        return {**common, "name": "", "network_id": _id(rng), "status": "DOWN",
                "mac_address": _mac(rng), "admin_state_up": True,
                "device_id": _id(rng), "device_owner": "compute:nova",
                "fixed_ips": [{"subnet_id": _id(rng), "ip_address": f"10.0.0.{rng.randrange(2, 254)}"}],
                "binding:host_id": rng.choice(HOSTS), "binding:vif_type": "ovs",
                "security_groups": [_id(rng)]}
    if kind == "router":
        return {**common, "name": "router1", "status": "ACTIVE", "admin_state_up": True,
                "external_gateway_info": {"network_id": _id(rng), "enable_snat": True},
                "ha": False, "distributed": False}
    return {**common, "floating_ip_address": f"203.0.113.{rng.randrange(2, 254)}",
            "floating_network_id": _id(rng), "router_id": _id(rng), "port_id": _id(rng),
            "fixed_ip_address": f"10.0.0.{rng.randrange(2, 254)}", "status": "ACTIVE"}


def _neutron(rng: random.Random, event_type: str) -> dict[str, Any]:
    kind = event_type.split(".")[0]
    resource = _resource(rng, kind)
    if event_type.endswith("delete.end"):
        return {f"{kind}_id": resource["id"], kind: resource}
    return {kind: resource}


NEUTRON = {f"{kind}.{action}": _neutron
           for kind in ("network", "subnet", "port", "router", "floatingip")
           for action in ("create.end", "update.end", "delete.end")}


# --- keystone (CADF) --------------------------------------------------------

def _cadf(rng: random.Random, event_type: str) -> dict[str, Any]:
    user, project = rng.choice(USERS), rng.choice(PROJECTS)
    initiator = {"typeURI": "service/security/account/user", "id": user, "user_id": user,
                 "project_id": project, "host": {"agent": "python-keystoneclient",
                                                 "address": f"10.0.0.{rng.randrange(2, 254)}"}}
    payload = {"typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event", "id": _id(rng),
               "eventType": "activity", "eventTime": "2026-11-23T09:59:59.000000+0000",
               "initiator": initiator,
               "observer": {"typeURI": "service/security", "id": _id(rng)}}
    if event_type == "identity.authenticate":
        outcome = "success" if rng.random() < 0.9 else "failure"
        payload.update(action="authenticate", outcome=outcome, requestPath="/v3/auth/tokens",
                       target={"typeURI": "service/security/account/user", "id": _id(rng)})
        return payload
    _identity, kind, action = event_type.split(".")
    resource = _id(rng).replace("-", "")
    payload.update(action=f"{action}.{kind}", outcome="success", resource_info=resource,
                   target={"typeURI": f"data/security/{kind}", "id": resource})
    return payload


KEYSTONE = {"identity.authenticate": _cadf, **{
    f"identity.{kind}.{action}": _cadf
    for kind in ("project", "user") for action in ("created", "updated", "deleted")}}


# --- heat -------------------------------------------------------------------

def _stack(rng: random.Random, event_type: str) -> dict[str, Any]:
    project, stack_id = rng.choice(PROJECTS), _id(rng)
    action = event_type.split(".")[2].upper()
    status = "IN_PROGRESS" if event_type.endswith(".start") else "COMPLETE"
    name = f"stack-{rng.randrange(999)}"
    return {
        "tenant_id": project, "user_id": rng.choice(["admin", "demo"]),
        "user_identity": rng.choice(USERS), "stack_name": name,
        "stack_identity": f"arn:openstack:heat::{project}:stacks/{name}/{stack_id}",
        "state": f"{action}_{status}", "state_reason": f"Stack {action} {status.lower()}",
        "create_at": "2026-11-23T09:00:00Z", "updated_at": "2026-11-23T09:40:00Z",
        "tags": None, "root_stack_id": stack_id,
    }


HEAT = {f"orchestration.stack.{a}.{p}": _stack
        for a in ("create", "update", "delete") for p in ("start", "end")}
