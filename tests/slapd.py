"""A real OpenLDAP server for the directory sign-in tests: Debian's slapd on a free loopback port.

``slapd_server(path)`` writes a slapd.conf and a small fixture directory (people, groups, a
service account) under ``path``, loads it with slapadd, starts slapd on 127.0.0.1 and yields a
``Directory`` to change entries through (as the directory's administrator) and to stop it, as the
Redis tests start redis-server. The system's own slapd service is never used.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import ldap
import ldap.modlist

from tests.cluster import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "directory-admin-password"
SERVICE_DN = f"cn=porchlight,ou=services,{BASE}"
SERVICE_PASSWORD = "porchlight-service-password"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"

# Active Directory's userAccountControl (its OID), carried by a test-only auxiliary class from
# OpenLDAP's experimental arc, so the disabled bit can be tested against slapd too.
CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'porchlightTestAccount' AUXILIARY
    MAY userAccountControl )
pidfile {root}/slapd.pid
argsfile {root}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "{base}"
rootdn "{admin}"
rootpw {admin_password}
directory {root}/data
maxsize 10485760
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""


def person(uid: str, *, given: str, surname: str, password: str, mail: str = "") -> str:
    lines = [
        f"dn: uid={uid},{PEOPLE}",
        "objectClass: inetOrgPerson",
        "objectClass: porchlightTestAccount",
        f"uid: {uid}",
        f"cn: {given} {surname}",
        f"givenName: {given}",
        f"sn: {surname}",
        f"userPassword: {password}",
        "userAccountControl: 512",
    ]
    if mail:
        lines.append(f"mail: {mail}")
    return "\n".join(lines)


def group(name: str, members: list[str]) -> str:
    return "\n".join(
        [f"dn: cn={name},{GROUPS}", "objectClass: groupOfNames", f"cn: {name}"]
        + [f"member: uid={uid},{PEOPLE}" for uid in members]
    )


FIXTURE = "\n\n".join(
    [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: porchlight\nuserPassword: {SERVICE_PASSWORD}",
        person("ada", given="Ada", surname="Lovelace", password="ada-directory-pw", mail="ada@example.org"),
        person(
            "grace", given="Grace", surname="Hopper", password="grace-directory-pw", mail="grace@example.org"
        ),
        person("linus", given="Linus", surname="Local", password="linus-directory-pw"),
        group("engineers", ["ada", "grace"]),
        group("admins", ["ada"]),
        group("everyone", ["ada", "grace", "linus"]),
    ]
)


@dataclass
class Directory:
    uri: str
    process: subprocess.Popen
    log: Path
    connections: list = field(default_factory=list)

    def admin(self):
        """Return a connection bound as the directory's administrator."""
        connection = ldap.initialize(self.uri)
        connection.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
        self.connections.append(connection)
        return connection

    def delete(self, dn: str) -> None:
        self.admin().delete_s(dn)

    def add(self, entry: str) -> None:
        """Add the entry an LDIF text (``person()``, ``group()``) describes."""
        lines = entry.splitlines()
        dn = lines[0].removeprefix("dn: ")
        attributes: dict[str, list[bytes]] = {}
        for line in lines[1:]:
            name, value = line.split(": ", 1)
            attributes.setdefault(name, []).append(value.encode())
        self.admin().add_s(dn, list(attributes.items()))

    def replace(self, dn: str, attribute: str, *values: str) -> None:
        self.admin().modify_s(dn, [(ldap.MOD_REPLACE, attribute, [value.encode() for value in values])])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _wait_until_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"slapd did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)


@contextmanager
def slapd_server(path: Path) -> Iterator[Directory]:
    """Run slapd with the fixture directory under ``path`` on a free loopback port; yield it."""
    assert Path(SLAPD).exists(), "slapd is not installed (make slapd)"
    root = path / "slapd"
    (root / "data").mkdir(parents=True)
    conf = root / "slapd.conf"
    conf.write_text(CONFIG.format(root=root, base=BASE, admin=ADMIN_DN, admin_password=ADMIN_PASSWORD))
    (root / "fixture.ldif").write_text(FIXTURE + "\n")
    log = root / "slapd.log"
    subprocess.run(
        [SLAPADD, "-f", str(conf), "-l", str(root / "fixture.ldif")],
        check=True,
        capture_output=True,
    )
    port = free_port()
    uri = f"ldap://127.0.0.1:{port}"
    with log.open("ab") as output:
        # -d 0: stay in the foreground (so the test owns the process and stops it by its PID).
        process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"{uri}/", "-d", "0"], stdout=output, stderr=output
        )
    directory = Directory(uri=uri, process=process, log=log)
    try:
        _wait_until_listening(port, process, log)
        yield directory
    finally:
        for connection in directory.connections:
            with suppress(ldap.LDAPError):
                connection.unbind_s()
        directory.stop()
