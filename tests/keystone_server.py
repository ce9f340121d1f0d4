"""A real Keystone for the tests: PyPI's ``keystone`` on a free loopback port.

One Keystone serves a whole test session (its start costs several seconds
of CPU): SQLite and Fernet keys in a temporary directory, ``keystone-manage
db_sync`` and ``bootstrap``, then its WSGI application served by waitress in
a subprocess. Users, projects and role assignments are made through its
REST API, as an operator's tools would. Without the ``keystone`` package the
tests that need it skip locally and fail under CI (:func:`servers.unavailable`).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from oslo_config import cfg

from pipeline.service import prepare_service
from tests import servers

ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex
SERVICE_USER = "pipeline"
SERVICE_PASSWORD = "service-" + uuid.uuid4().hex
START_SECONDS = 180
#: Serves keystone's WSGI application; keystone parses sys.argv, so it must be empty.
SERVE = """
import sys, waitress
port = int(sys.argv[1]); sys.argv = sys.argv[:1]
from keystone.wsgi.api import application
waitress.serve(application, host="127.0.0.1", port=port, threads=8, ident="keystone")
"""
CONFIG = """\
[DEFAULT]
log_file = {root}/keystone.log
[database]
connection = sqlite:///{root}/keystone.db
[fernet_tokens]
key_repository = {root}/fernet-keys
[fernet_receipts]
key_repository = {root}/fernet-receipts
[credential]
key_repository = {root}/credential-keys
[identity]
# Fast hashes: the tests sign in often; the default cost is for real users.
password_hash_rounds = 4
"""


@dataclass
class Keystone:
    """A running Keystone and an admin's way into it."""

    url: str
    admin_token: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """Call Keystone's v3 API as the admin (or with ``token``); the JSON answer."""
        headers = {"X-Auth-Token": token or self.admin_token, **kwargs.pop("headers", {})}
        response = httpx.request(method, f"{self.url}/v3{path}", headers=headers, timeout=30,
                                 **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def token(self, user: str, password: str, project: str | None = None) -> str:
        """A token of ``user`` (by name, default domain), scoped to ``project`` (by name)."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        response = httpx.post(f"{self.url}/v3/auth/tokens", json={"auth": auth}, timeout=30)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def project(self, name: str) -> str:
        """The id of project ``name``, created when missing."""
        found = self.api("GET", "/projects", params={"name": name})["projects"]
        if found:
            return str(found[0]["id"])
        body = {"project": {"name": name, "domain_id": "default"}}
        return str(self.api("POST", "/projects", json=body)["project"]["id"])

    def user(self, name: str, password: str, project: str, role: str) -> str:
        """Create ``name`` with ``role`` on ``project`` (by name); its id."""
        body = {"user": {"name": name, "password": password, "domain_id": "default"}}
        user_id = str(self.api("POST", "/users", json=body)["user"]["id"])
        role_id = self.api("GET", "/roles", params={"name": role})["roles"][0]["id"]
        self.api("PUT", f"/projects/{self.project(project)}/users/{user_id}/roles/{role_id}")
        return user_id

    def revoke(self, token: str) -> None:
        """Revoke ``token`` in Keystone."""
        self.api("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})

    def is_valid(self, token: str) -> bool:
        """True while Keystone itself accepts ``token``."""
        response = httpx.get(f"{self.url}/v3/auth/tokens", timeout=30, headers={
            "X-Auth-Token": self.admin_token, "X-Subject-Token": token})
        return response.status_code == 200

    def authtoken_section(self, cache_time: int = 300, url: str | None = None) -> str:
        """A working ``[keystone_authtoken]`` section for pipeline against this Keystone.

        ``url`` replaces Keystone's address (to point at one that is down).
        """
        url = url or self.url
        return (
            "[keystone_authtoken]\n"
            f"www_authenticate_uri = {url}/v3\n"
            f"auth_url = {url}\n"
            "http_request_max_retries = 0\n"
            # bootstrap made only a public endpoint; auth_token looks for internal
            "interface = public\n"
            "auth_type = password\n"
            f"username = {SERVICE_USER}\n"
            f"password = {SERVICE_PASSWORD}\n"
            "user_domain_name = Default\n"
            "project_name = service\n"
            "project_domain_name = Default\n"
            f"token_cache_time = {cache_time}\n"
        )


def _fernet_keys(directory: Path) -> None:
    # What keystone-manage fernet_setup writes: a staged key 0 and a primary key 1.
    directory.mkdir(mode=0o700)
    for name in ("0", "1"):
        (directory / name).write_bytes(base64.urlsafe_b64encode(os.urandom(32)))


def _tail(path: Path, lines: int = 15) -> str:
    """The end of a log, for the failure message (the directory goes away)."""
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def _manage(root: Path, *args: str) -> None:
    binary = os.path.join(os.path.dirname(sys.executable), "keystone-manage")
    with open(root / "manage.log", "ab") as log:
        done = subprocess.run([binary, "--config-file", str(root / "keystone.conf"), *args],
                              stdout=log, stderr=subprocess.STDOUT, timeout=START_SECONDS,
                              check=False)
    if done.returncode:
        servers.unavailable("Keystone", f"keystone-manage {args[0]} failed:\n"
                            + _tail(root / "manage.log"))


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v3", timeout=2).status_code == 200:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            servers.unavailable("Keystone", "did not start:\n" + _tail(log))
        time.sleep(0.2)


def _setup(keystone: Keystone) -> None:
    keystone.admin_token = keystone.token("admin", ADMIN_PASSWORD, "admin")
    keystone.project("service")
    keystone.ids[SERVICE_USER] = keystone.user(SERVICE_USER, SERVICE_PASSWORD, "service",
                                               "service")


@contextlib.contextmanager
def keystone_server() -> Iterator[Keystone]:
    """A bootstrapped Keystone on a free loopback port, for as long as the context."""
    if importlib.util.find_spec("keystone") is None:
        servers.unavailable("Keystone", "the keystone package is not installed "
                            "(pip install '.[test]')")
    with tempfile.TemporaryDirectory(prefix="pipeline-keystone-") as tmp:
        root = Path(tmp)
        (root / "keystone.conf").write_text(CONFIG.format(root=root))
        for name in ("fernet-keys", "fernet-receipts", "credential-keys"):
            _fernet_keys(root / name)
        port = servers.free_port()
        url = f"http://127.0.0.1:{port}"
        _manage(root, "db_sync")
        _manage(root, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                "--bootstrap-public-url", f"{url}/v3", "--bootstrap-region-id", "RegionOne")
        env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(root / "keystone.conf")}
        with open(root / "serve.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(url, proc, root / "serve.log")
            keystone = Keystone(url)
            _setup(keystone)
            yield keystone
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


#: People of the Keystone tests: name -> (project, role).
PEOPLE = {
    "admin-user": ("p1", "admin"),
    "u1": ("p1", "member"),
    "u2": ("p1", "member"),
    "u3": ("p2", "member"),
    "reader": ("p1", "reader"),
}


@dataclass
class KeystoneWorld:
    """Projects p1, p2 and PEOPLE in a real Keystone; ids maps names to Keystone's ids."""

    keystone: Keystone
    suffix: str
    ids: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def name(self, short: str) -> str:
        """The Keystone name of a person or project of this world."""
        return f"{short}-{self.suffix}"

    def password(self, person: str) -> str:
        """The password of ``person``."""
        return f"pw-{person}-{self.suffix}"

    def new_token(self, person: str) -> str:
        """A new project-scoped token of ``person``."""
        project = PEOPLE[person][0]
        return self.keystone.token(self.name(person), self.password(person), self.name(project))

    def auth(self, person: str) -> dict[str, str]:
        """``X-Auth-Token`` headers of ``person`` (one token per person, reused)."""
        if person not in self._tokens:
            self._tokens[person] = self.new_token(person)
        return {"X-Auth-Token": self._tokens[person]}

    def conf(self, directory: Path, cache_time: int = 300, url: str | None = None,
             **api: object) -> cfg.ConfigOpts:
        """A pipeline configuration with auth_strategy = keystone against this Keystone.

        ``url`` points [keystone_authtoken] elsewhere (a Keystone that is down).
        """
        lines = ["[api]", "auth_strategy = keystone", *(f"{k} = {v}" for k, v in api.items())]
        path = directory / f"keystone-{uuid.uuid4().hex[:8]}.conf"
        section = self.keystone.authtoken_section(cache_time, url)
        path.write_text("\n".join(lines) + "\n" + section)
        return prepare_service(["--config-file", str(path)], config_files=[])


def make_world(keystone: Keystone) -> KeystoneWorld:
    """Projects p1, p2 and PEOPLE, with names of their own, in ``keystone``."""
    world = KeystoneWorld(keystone, uuid.uuid4().hex[:6])
    for project in ("p1", "p2"):
        world.ids[project] = keystone.project(world.name(project))
    for person, (project, role) in PEOPLE.items():
        world.ids[person] = keystone.user(world.name(person), world.password(person),
                                          world.name(project), role)
    return world
