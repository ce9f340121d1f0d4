"""The policy: Panko's defaults in code, a policy file overrides them, the sample tool works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.api import policy
from pipeline.api.auth import NOAUTH, Caller, Forbidden, Identity
from pipeline.service import prepare_service

EVERY_OPERATION = {
    policy.EVENTS_INDEX, policy.EVENTS_SHOW, policy.EVENTS_ALL_TENANTS,
    policy.EVENT_TYPES_INDEX, policy.EVENT_TYPES_TRAITS,
    policy.TICKETS_READ, policy.TICKETS_SOLVE, policy.TICKETS_DELETE,
}


def caller(roles: str, policy_file: Path | None = None, project: str = "p1") -> Caller:
    argv = []
    if policy_file is not None:
        conf_file = policy_file.with_suffix(".conf")
        conf_file.write_text(f"[oslo_policy]\npolicy_file = {policy_file}\n")
        argv = ["--config-file", str(conf_file)]
    rules = policy.Policy(prepare_service(argv, config_files=[]))
    who = Identity("u1", project, frozenset(roles.split(",")) - {""}, "keystone")
    return Caller(who, rules)


def test_every_operation_has_a_documented_default() -> None:
    rules = {rule.name: rule for rule in policy.list_rules()}
    assert EVERY_OPERATION | {policy.CONTEXT_IS_ADMIN, policy.SEGREGATION} == set(rules)
    assert rules[policy.CONTEXT_IS_ADMIN].check_str == "role:admin"
    assert rules[policy.SEGREGATION].check_str == "rule:context_is_admin"  # Panko's
    assert rules[policy.EVENTS_INDEX].check_str == ""  # Panko: the scope limits
    for name in EVERY_OPERATION:
        assert rules[name].description and rules[name].operations  # type: ignore[attr-defined]


@pytest.mark.parametrize(("roles", "allowed"), [
    ("admin,member,reader", EVERY_OPERATION),
    ("Admin", EVERY_OPERATION),  # role names compare case-insensitively
    ("member,reader", {policy.EVENTS_INDEX, policy.EVENTS_SHOW}),
    ("reader", {policy.EVENTS_INDEX, policy.EVENTS_SHOW}),
])
def test_defaults_by_role(roles: str, allowed: set[str]) -> None:
    who = caller(roles)
    assert {name for name in EVERY_OPERATION if who.allows(name)} == allowed


def test_scope_follows_segregation() -> None:
    assert caller("member").scope().limited
    admin = caller("admin").scope()
    assert (admin.admin_proj, admin.all_tenants, admin.limited) == ("p1", True, False)


def test_a_policy_file_overrides_a_default(tmp_path: Path) -> None:
    overrides = tmp_path / "policy.yaml"
    overrides.write_text('"pipeline:tickets:read": "role:reader"\n'
                         '"telemetry:events:all_tenants": "!"\n')
    reader = caller("reader", overrides)
    assert reader.allows(policy.TICKETS_READ)
    assert not reader.allows(policy.TICKETS_SOLVE)
    assert not caller("admin", overrides).scope().all_tenants


def test_refusals_name_the_project_and_noauth_passes_everything() -> None:
    with pytest.raises(Forbidden, match="Not Authorized to access project p1"):
        caller("member").require(policy.TICKETS_READ)
    with pytest.raises(Forbidden, match="RBAC Authorization Failed"):
        caller("admin", project="").require(policy.EVENTS_INDEX)  # an unscoped token
    anyone = Caller(NOAUTH, policy.Policy(prepare_service([], config_files=[])))
    assert all(anyone.allows(name) for name in EVERY_OPERATION)
    assert anyone.scope() == anyone.scope().__class__()


def test_oslopolicy_sample_generator_finds_the_rules() -> None:
    """The entry point of the checkout under test (first on the path, as for pytest)."""
    tool = Path(sys.executable).with_name("oslopolicy-sample-generator")
    command = [str(tool)] if tool.exists() else [shutil.which("oslopolicy-sample-generator")]
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(root), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([*command, "--namespace", "pipeline"], capture_output=True, text=True,
                          timeout=120, check=True, env=env)  # type: ignore[list-item]
    for name in EVERY_OPERATION:
        assert f'#"{name}":' in done.stdout
    assert '#"segregation": "rule:context_is_admin"' in done.stdout
