"""The container image as an operator runs it: built by deploy/image/build.sh, run under podman.

One image runs every role; here the one-off commands (`migrate`, `rotatekeys`, `createclient`, a
user made with `shell`) and `serve`, on a throwaway PostgreSQL reached over the host's network, with
a read-only root filesystem and the secrets given as files (`*_FILE`); a relying party (Authlib)
signs in through it, before and after the container restarts. PORCHLIGHT_TEST_IMAGE names an image
already built from this commit's inputs (`make test-image` does), to skip the build. The
machine's own limits decide podman's run options (below), never the image.
"""

import json
import os
import resource
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.cluster import free_port, postgres_cluster
from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    POST_LOGOUT_REDIRECT_URI,
    REDIRECT_URI,
    SCOPE,
    Browser,
    query_of,
    verify_id_token,
)
from tests.environment import ROOT

pytestmark = pytest.mark.image

BUILD = ROOT / "deploy" / "image" / "build.sh"


def podman_run_options() -> list[str]:
    """What `podman run` needs on this machine: a runtime it accepts, limits within the host's own.

    podman's default open-files limit (about a million) is refused where the host's is lower;
    PORCHLIGHT_PODMAN_RUNTIME chooses the OCI runtime (runc by default, crun is refused on some
    machines).
    """
    options = ["--runtime", os.environ.get("PORCHLIGHT_PODMAN_RUNTIME", "runc")]
    for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, _hard = resource.getrlimit(limit)
        value = min(soft, 4096) if soft != resource.RLIM_INFINITY else 4096
        options += ["--ulimit", f"{name}={value}:{value}"]
    return options


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    given = os.environ.get("PORCHLIGHT_TEST_IMAGE")
    if given:
        return given
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    name = f"localhost/porchlight:test-{revision}"
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


@pytest.fixture(scope="module")
def secret_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("secrets")
    (folder / "secret_key").write_text(secrets.token_urlsafe(50) + "\n")
    (folder / "kek").write_text(secrets.token_urlsafe(32) + "\n")
    # The container's user (10001) reads them; a secrets mount does the same with its own modes.
    for path in [folder, *folder.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


@pytest.fixture(scope="module")
def database(image: str, secret_files: Path) -> Iterator[str]:
    """A throwaway PostgreSQL that the image's one-off `migrate` and `rotatekeys` set up; its URL.

    One per module: the tests that follow share it, as nodes of one deployment do.
    """
    with postgres_cluster() as cluster:
        options = run_options(secret_files, cluster.url, free_port())
        for command in (["migrate", "--no-input", "-v0"], ["rotatekeys"]):
            done = podman("run", "--rm", *options, image, *command)
            assert done.returncode == 0, done.stderr
        yield cluster.url


def run_options(secret_folder: Path, database_url: str, port: int) -> list[str]:
    return [
        *podman_run_options(),
        "--read-only",
        "--network=host",
        "--volume",
        f"{secret_folder}:/run/secrets:ro",
        "--env",
        f"DATABASE_URL={database_url}",
        "--env",
        f"PORCHLIGHT_ISSUER=http://127.0.0.1:{port}",
        "--env",
        f"PORCHLIGHT_BIND=127.0.0.1:{port}",
        "--env",
        "PORCHLIGHT_WORKERS=2",
        "--env",
        "PORCHLIGHT_SECRET_KEY_FILE=/run/secrets/secret_key",
        "--env",
        "PORCHLIGHT_KEY_ENCRYPTION_KEY_FILE=/run/secrets/kek",
    ]


@pytest.fixture(params=["gunicorn", "granian"])
def served(
    request: pytest.FixtureRequest, image: str, secret_files: Path, database: str
) -> Iterator[tuple[str, str]]:
    """The image's `serve` on the migrated throwaway PostgreSQL; yields (base URL, container name)."""
    port = free_port()
    name = f"porchlight-test-{port}"
    options = run_options(secret_files, database, port)
    server = ["--env", f"PORCHLIGHT_SERVER={request.param}"]
    started = podman("run", "--detach", "--name", name, *options, *server, image)
    assert started.returncode == 0, started.stderr
    try:
        yield f"http://127.0.0.1:{port}", name
    finally:
        podman("rm", "--force", "--time", "10", name)


def container_logs(name: str) -> str:
    """The end of what the container wrote to stdout and to stderr."""
    logs = podman("logs", name)
    return f"stdout: {logs.stdout[-2000:]}\nstderr: {logs.stderr[-3000:]}"


def wait_ready(base: str, name: str, timeout: float = 300) -> requests.Response:
    """The container's /readyz once it answers 200.

    The deadline is that of a manage.py command in the suite (tests/cluster.py): `trial` migrates
    a new SQLite database before it serves, which takes minutes while both suites load the cores.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = requests.get(base + "/readyz", timeout=10)
            if response.status_code == 200:
                return response
        except (requests.ConnectionError, requests.Timeout):
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        if state != "running" or time.monotonic() > deadline:
            raise AssertionError(f"not ready ({state}): {container_logs(name)}")
        time.sleep(0.5)


def test_serves_discovery_and_keys_from_a_read_only_root(served: tuple[str, str]) -> None:
    base, name = served
    ready = wait_ready(base, name).json()
    assert ready["checks"] == {"database": True, "migrations": True, "signing_key": True}

    discovery = requests.get(base + "/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == base
    jwks = requests.get(discovery["jwks_uri"], timeout=5).json()
    assert {key["alg"] for key in jwks["keys"]} >= {"RS256", "ES256"}
    assert all("d" not in key for key in jwks["keys"])

    # Static files were collected at build time: the admin's stylesheet, by its hashed name.
    login = requests.get(base + "/admin/login/", timeout=5)
    stylesheet = next(
        part.split('"')[0] for part in login.text.split('href="')[1:] if part.startswith("/static/")
    )
    assert requests.get(base + stylesheet, timeout=5).status_code == 200

    # The image's HEALTHCHECK, run as the engine would.
    assert podman("healthcheck", "run", name).returncode == 0


def kids(jwks_uri: str) -> set[str]:
    return {key["kid"] for key in requests.get(jwks_uri, timeout=5).json()["keys"]}


def test_code_flow_keys_and_sessions_survive_a_restart(image: str, secret_files: Path, database: str) -> None:
    """A relying party signs a user in; after `podman restart` the keys and the session are the same."""
    port = free_port()
    name = f"porchlight-restart-{port}"
    create_user = (
        "from accounts.models import User; "
        f"User.objects.create_user(username='alice', password={PASSWORD!r}, email='alice@example.com')"
    )
    options = run_options(secret_files, database, port)
    done = podman("run", "--rm", *options, image, "shell", "-v0", "-c", create_user)
    assert done.returncode == 0, done.stderr
    registered = podman(
        "run",
        "--rm",
        *options,
        image,
        *("createclient", "Image RP", "--redirect-uri", REDIRECT_URI),
        *("--post-logout-redirect-uri", POST_LOGOUT_REDIRECT_URI, "--json"),
    )
    assert registered.returncode == 0, registered.stderr
    client = json.loads(registered.stdout)
    started = podman("run", "--detach", "--name", name, *options, image)
    assert started.returncode == 0, started.stderr
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, name)
        metadata = requests.get(base + "/.well-known/openid-configuration", timeout=5).json()
        keys_before = kids(metadata["jwks_uri"])
        assert keys_before

        rp = OAuth2Session(
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            scope=SCOPE,
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
        )
        browser = Browser(base)
        verifier, nonce = generate_token(48), generate_token(16)
        url, _state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        location = browser.sign_in(url)
        token = rp.fetch_token(
            metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        claims = verify_id_token(
            token["id_token"], metadata=metadata, client_id=client["client_id"], nonce=nonce
        )
        assert rp.get(metadata["userinfo_endpoint"]).json()["email"] == "alice@example.com"

        restarted = podman("restart", "--time", "10", name)
        assert restarted.returncode == 0, restarted.stderr
        wait_ready(base, name)
        assert kids(metadata["jwks_uri"]) == keys_before

        # The browser's session cookie still signs it in: a silent request (OIDC Core 1.0
        # §3.1.2.1, prompt=none) comes straight back with a code, no login page.
        verifier, nonce = generate_token(48), generate_token(16)
        url, state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, prompt="none"
        )
        response = browser.get(url)
        assert response.status_code == 302, response.text[:500]
        callback = query_of(response.headers["Location"])
        assert callback["state"] == state and "code" in callback, callback
        again = rp.fetch_token(
            metadata["token_endpoint"],
            authorization_response=response.headers["Location"],
            code_verifier=verifier,
        )
        # Signed with a key published before the restart, by the same user's session.
        again_claims = verify_id_token(
            again["id_token"], metadata=metadata, client_id=client["client_id"], nonce=nonce
        )
        assert again_claims["sub"] == claims["sub"]
        assert again_claims["auth_time"] == claims["auth_time"]
    finally:
        podman("rm", "--force", "--time", "10", name)


def test_trial_serves_on_sqlite_with_one_command(image: str) -> None:
    """`trial`: SQLite and a secret key in /data, no other setting; a one-off command reaches its data."""
    port = free_port()
    name = f"porchlight-trial-{port}"
    started = podman(
        "run",
        "--detach",
        "--name",
        name,
        *podman_run_options(),
        "--network=host",
        "--env",
        f"PORCHLIGHT_BIND=127.0.0.1:{port}",
        "--env",
        f"PORCHLIGHT_ISSUER=http://localhost:{port}",
        image,
        "trial",
    )
    assert started.returncode == 0, started.stderr
    try:
        base = f"http://localhost:{port}"
        ready = wait_ready(base, name).json()
        assert ready["checks"] == {"database": True, "migrations": True, "signing_key": True}
        assert requests.get(base + "/.well-known/openid-configuration", timeout=5).json()["issuer"] == base
        created = podman(
            "exec",
            name,
            "/opt/porchlight/entrypoint",
            *("trial", "createclient", "Trial RP", "--redirect-uri", REDIRECT_URI, "--json"),
        )
        assert created.returncode == 0, created.stderr
        listed = podman("exec", name, "/opt/porchlight/entrypoint", "trial", "listclients")
        assert json.loads(created.stdout)["client_id"] in listed.stdout
        # The database and the generated key are the porchlight user's, in /data alone.
        files = podman("exec", name, "ls", "-ln", "/data").stdout
        assert "porchlight.sqlite3" in files and "secret_key" in files
        assert all(" 10001 10001 " in line for line in files.splitlines()[1:]), files
    finally:
        podman("rm", "--force", "--time", "10", name)


def test_the_task_worker_role_runs_the_queued_housekeeping(
    image: str, secret_files: Path, database: str
) -> None:
    """`db_worker` from the same image takes the job `housekeeping --schedule` queued and runs it."""
    port = free_port()
    name = f"porchlight-worker-{port}"
    options = run_options(secret_files, database, port)
    done = podman("run", "--rm", *options, image, "housekeeping", "--schedule", "-v0")
    assert done.returncode == 0, done.stderr
    started = podman(
        "run", "--detach", "--no-healthcheck", "--name", name, *options, image, "db_worker", "--no-reload"
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 90
        while True:
            with psycopg.connect(database) as connection:
                ran = connection.execute(
                    "SELECT count(*) FROM django_tasks_database_dbtaskresult"
                    " WHERE status = 'SUCCESSFUL' AND task_path LIKE %s",
                    ["%housekeeping%"],
                ).fetchone()
            if ran and ran[0] >= 1:
                break
            state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            if state != "running" or time.monotonic() > deadline:
                raise AssertionError(f"no job ran ({state}): {container_logs(name)}")
            time.sleep(1)
    finally:
        podman("rm", "--force", "--time", "10", name)


def test_runs_as_a_user_that_is_not_root(image: str) -> None:
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    ids = podman("run", "--rm", *podman_run_options(), "--entrypoint", "/usr/bin/id", image)
    assert ids.returncode == 0, ids.stderr
    assert "uid=10001(porchlight)" in ids.stdout
    assert "(root)" not in ids.stdout


def test_holds_no_compiler_and_no_test_tools(image: str) -> None:
    look = (
        "for tool in gcc cc c++ g++ clang make ld pip pip3; do command -v $tool; done; "
        "ls /usr/lib/gcc 2>/dev/null; "
        # gcc-12-base holds no compiler (libgcc's copyright files): every Debian system has it.
        "dpkg-query -W -f '${Package}\\n' "
        "| grep -E '^(gcc(-[0-9]+)?|cpp(-[0-9]+)?|binutils|libc6-dev|python3(\\.[0-9]+)?-(venv|pip|dev))$'; "
        # django is there: the import check itself works.
        "for module in django pytest pip setuptools playwright; do "
        'python -c "import $module" 2>/dev/null && echo $module; done; true'
    )
    found = podman("run", "--rm", *podman_run_options(), "--entrypoint", "/bin/sh", image, "-c", look)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["django"]


def test_labels_name_version_source_and_revision(image: str) -> None:
    labels = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]["Labels"]
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    if not os.environ.get("PORCHLIGHT_TEST_IMAGE"):
        assert labels["org.opencontainers.image.revision"] == revision.strip()
    assert labels["org.opencontainers.image.version"]
    assert labels["org.opencontainers.image.source"]


def test_an_unreadable_secret_file_stops_the_container(image: str) -> None:
    done = podman(
        "run",
        "--rm",
        *podman_run_options(),
        "--env",
        "PORCHLIGHT_SECRET_KEY_FILE=/run/secrets/missing",
        image,
        "serve",
    )
    assert done.returncode == 78
    assert "PORCHLIGHT_SECRET_KEY_FILE names /run/secrets/missing, which cannot be read" in done.stderr
