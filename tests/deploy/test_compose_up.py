"""deploy/compose/compose.yaml brought up for real, under podman, as an operator would.

The committed compose.yaml and nginx.conf are copied into a folder of the test's own, beside the
secrets its header says to make and a self-signed certificate, and run by Debian's Docker Compose
(`docker-compose` 1.29) against podman's Docker-compatible API (`podman system service`).
Debian's podman-compose (1.0.3) cannot run the file: it ignores depends_on's conditions (the
migration would race PostgreSQL's first start) and `ipv4_address` (nginx would not have the one
address the nodes trust).

PostgreSQL, Redis and nginx are stand-ins built from Debian's packages (tests/deploy/standins/,
chosen through POSTGRES_IMAGE, REDIS_IMAGE and PROXY_IMAGE): no registry is reachable for the
official images. This machine's limits go in a containers.conf of the test's own, never in the
file: the runc runtime and open-file and process limits within the host's. Without systemd,
podman schedules no health check, so the test runs each container's own check every two seconds
(`podman healthcheck run`), as podman's systemd timer would.

Selected with `-m image` (tests/deploy/conftest.py); PORCHLIGHT_TEST_IMAGE names a Porchlight
image already built from this commit's inputs, as `make test-image` does.
"""

import datetime
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cluster import free_port
from tests.environment import ROOT
from tests.image.test_image import podman, podman_run_options

pytestmark = pytest.mark.image

COMPOSE = ROOT / "deploy" / "compose"
STANDINS = ROOT / "tests" / "deploy" / "standins" / "build.sh"
BUILD = ROOT / "deploy" / "image" / "build.sh"


def porchlight_image() -> str:
    """The image built from this commit's inputs (`build.sh --inputs`), built when missing."""
    given = os.environ.get("PORCHLIGHT_TEST_IMAGE")
    if given:
        return given
    inputs = subprocess.run(["sh", str(BUILD), "--inputs"], cwd=ROOT, capture_output=True, text=True)
    assert inputs.returncode == 0, inputs.stderr
    name = f"localhost/porchlight:inputs-{inputs.stdout.strip()}"
    if podman("image", "exists", name).returncode != 0:
        built = subprocess.run(
            ["sh", str(BUILD)],
            cwd=ROOT,
            env={**os.environ, "IMAGE": name},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return name


def standin_images() -> dict[str, str]:
    built = subprocess.run(["sh", str(STANDINS)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    return dict(line.split(" ", 1) for line in built.stdout.splitlines())


def self_signed(folder: Path) -> Path:
    """tls/fullchain.pem and tls/privkey.pem for localhost, as an operator's certificate would be."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    tls = folder / "tls"
    tls.mkdir(mode=0o755)
    (tls / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tls / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tls / "fullchain.pem"


def make_secrets(folder: Path) -> None:
    """The secrets compose.yaml's header says to make, readable by the containers' users."""
    made = folder / "secrets"
    made.mkdir()
    password = secrets.token_hex(24)
    (made / "secret_key").write_text(secrets.token_urlsafe(48) + "\n")
    (made / "key_encryption_key").write_text(secrets.token_urlsafe(32) + "\n")
    (made / "postgres_password").write_text(password + "\n")
    (made / "database_url").write_text(f"postgres://porchlight:{password}@postgres:5432/porchlight\n")
    made.chmod(0o755)
    for path in made.iterdir():
        path.chmod(0o644)


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 172.30.0.0/16 that no podman network on this machine uses."""
    taken = set()
    for name in podman("network", "ls", "--format", "{{.Name}}").stdout.split():
        described = json.loads(podman("network", "inspect", name).stdout or "[]")
        for network in described:
            for subnet in network.get("subnets") or []:
                taken.add(ipaddress.ip_network(subnet["subnet"]))
    for third in range(100 + os.getpid() % 100, 256):
        candidate = ipaddress.IPv4Network(f"172.30.{third}.0/24")
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise AssertionError("no free /24 under 172.30.0.0/16")


@dataclass
class Deployment:
    project: str
    folder: Path
    environment: dict[str, str]
    https: str
    certificate: str
    proxy_address: str
    up_seconds: float

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker-compose", "--project-name", self.project, *args],
            cwd=self.folder,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def container(self, service: str) -> dict:
        ids = self.compose("ps", "--all", "--quiet", service).stdout.split()
        assert len(ids) == 1, (service, ids)
        return json.loads(podman("inspect", ids[0]).stdout)[0]


def project_containers(project: str) -> list[str]:
    listed = podman(
        "ps", "--all", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}"
    )
    return listed.stdout.split()


def run_health_checks(project: str, stop: threading.Event) -> None:
    """Every 2 s, each running container's own health check, as podman's systemd timer would."""
    while not stop.wait(2):
        for name in project_containers(project):
            podman("healthcheck", "run", name, timeout=30)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if shutil.which("docker-compose") is None:
        raise AssertionError("docker-compose is missing: `make image-tools` installs it")
    images = standin_images()
    porchlight = porchlight_image()
    folder = tmp_path_factory.mktemp("compose")
    for name in ("compose.yaml", "nginx.conf"):
        shutil.copy(COMPOSE / name, folder / name)
    make_secrets(folder)
    certificate = self_signed(folder)

    # This machine's limits for every container the engine starts (tests/image/test_image.py).
    options = podman_run_options()
    runtime = options[options.index("--runtime") + 1]
    ulimits = [options[i + 1] for i, option in enumerate(options) if option == "--ulimit"]
    conf = folder / "containers.conf"
    conf.write_text(
        f"[containers]\ndefault_ulimits = {json.dumps(ulimits)}\n\n"
        f"[engine]\nruntime = {json.dumps(runtime)}\n"
    )
    socket = folder / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time", "0", f"unix://{socket}"],
        env={**os.environ, "CONTAINERS_CONF": str(conf)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not socket.exists():
        assert service.poll() is None and time.monotonic() < deadline, "podman system service did not start"
        time.sleep(0.2)

    https_port, http_port = free_port(), free_port()
    subnet = free_subnet()
    proxy_address = str(subnet.network_address + 10)
    environment = {
        **os.environ,
        "DOCKER_HOST": f"unix://{socket}",
        "PORCHLIGHT_ISSUER": f"https://localhost:{https_port}",
        "PORCHLIGHT_IMAGE": porchlight,
        "POSTGRES_IMAGE": images["postgres"],
        "REDIS_IMAGE": images["redis"],
        "PROXY_IMAGE": images["proxy"],
        "HTTPS_PORT": str(https_port),
        "HTTP_PORT": str(http_port),
        "PORCHLIGHT_SUBNET": str(subnet),
        "PROXY_ADDRESS": proxy_address,
    }
    project = f"porchlight-compose-{https_port}"
    stop = threading.Event()
    checks = threading.Thread(target=run_health_checks, args=(project, stop), daemon=True)
    checks.start()
    deployment = Deployment(
        project, folder, environment, f"https://localhost:{https_port}", str(certificate), proxy_address, 0
    )
    try:
        started = time.monotonic()
        up = deployment.compose("up", "--detach", "--no-build", timeout=420)
        deployment.up_seconds = time.monotonic() - started
        print(f"\ncompose up: {deployment.up_seconds:.1f} s")
        logs = "" if up.returncode == 0 else deployment.compose("logs", "--no-color").stdout[-6000:]
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:] + logs
        yield deployment
    finally:
        stop.set()
        checks.join(timeout=60)
        deployment.compose("down", "--volumes", "--timeout", "10", timeout=300)
        for name in project_containers(project):  # whatever `down` left: never another run's
            podman("rm", "--force", name)
        service.terminate()
        service.wait(timeout=30)


def test_the_migration_job_finishes_and_every_service_runs(deployment: Deployment) -> None:
    migrate = deployment.container("migrate")["State"]
    assert (migrate["Status"], migrate["ExitCode"]) == ("exited", 0)
    for service in ("postgres", "redis", "web1", "web2", "worker", "proxy"):
        assert deployment.container(service)["State"]["Status"] == "running", service
    for service in ("postgres", "redis", "web1", "web2", "proxy"):
        assert deployment.container(service)["State"]["Health"]["Status"] == "healthy", service


def test_nginx_answers_https_with_discovery_of_the_https_issuer(deployment: Deployment) -> None:
    discovery = requests.get(
        deployment.https + "/.well-known/openid-configuration", verify=deployment.certificate, timeout=10
    )
    assert discovery.status_code == 200
    metadata = discovery.json()
    assert metadata["issuer"] == deployment.https
    jwks = requests.get(metadata["jwks_uri"], verify=deployment.certificate, timeout=10).json()
    assert {key["alg"] for key in jwks["keys"]} >= {"RS256", "ES256"}
    # Port 80 sends people to HTTPS.
    http = f"http://localhost:{deployment.environment['HTTP_PORT']}/.well-known/openid-configuration"
    moved = requests.get(http, allow_redirects=False, timeout=10)
    assert moved.status_code == 301
    assert moved.headers["Location"].startswith("https://localhost")


def test_requests_through_nginx_reach_both_nodes_as_https_from_the_trusted_proxy(
    deployment: Deployment,
) -> None:
    """nginx spreads requests over web1 and web2, each logging nginx's request id.

    The nodes redirect any request they take for plain HTTP to HTTPS (SECURE_SSL_REDIRECT, on for
    an https issuer): answered without a redirect, each was read as HTTPS from nginx's Forwarded,
    which the nodes believe from PORCHLIGHT_TRUSTED_PROXIES alone, nginx's fixed address (the
    peer each node's access log names).
    """
    sent = set()
    with requests.Session() as session:
        for _ in range(12):
            response = session.get(
                deployment.https + "/.well-known/openid-configuration",
                verify=deployment.certificate,
                allow_redirects=False,
                timeout=10,
            )
            assert response.status_code == 200, response.headers
            sent.add(response.headers["X-Request-ID"])
    logged: dict[str, set[str]] = {}
    peers = set()
    for node in ("web1", "web2"):
        lines = podman("logs", deployment.container(node)["Name"]).stdout.splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        access = [entry for entry in entries if entry.get("logger") == "granian.access"]
        logged[node] = {entry["request_id"] for entry in access}
        peers |= {entry["remote_addr"] for entry in access if entry["request_id"] in sent}
    assert logged["web1"] & sent and logged["web2"] & sent, logged
    assert sent <= logged["web1"] | logged["web2"]
    assert peers == {deployment.proxy_address}


def test_down_removes_containers_network_and_volume(deployment: Deployment) -> None:
    done = deployment.compose("down", "--volumes", "--timeout", "10", timeout=300)
    assert done.returncode == 0, done.stderr
    assert project_containers(deployment.project) == []
    networks = podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{deployment.project}_porchlight" not in networks
    volumes = podman("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{deployment.project}_postgres" not in volumes
