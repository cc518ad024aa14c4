"""Run a command against a throwaway PostgreSQL 15 cluster: initdb in a temp dir, start, run, remove.

Usage: python tests/pg_cluster.py COMMAND [ARGS...]
The command sees DATABASE_URL pointing at the cluster (127.0.0.1, a free port below 32768).
"""

import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("PORCHLIGHT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    # Random, so parallel runs on a shared machine rarely pick the same one; start() retries.
    for _ in range(50):
        port = random.randrange(20000, 32000)  # noqa: S311 - not a secret
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port below 32768 for PostgreSQL")


def ensure_installed() -> None:
    if (PG_BIN / "initdb").exists():
        return
    if os.geteuid() != 0:
        raise SystemExit(f"PostgreSQL 15 is not installed ({PG_BIN}); install Debian's postgresql-15")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql-15"], check=True, env=env)


def as_owner(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as the postgres user.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def main() -> int:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="porchlight-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = free_port()
    log = root / "server.log"
    try:
        subprocess.run(
            as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "porchlight",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(
            as_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env = {**os.environ, "DATABASE_URL": f"postgres://porchlight@127.0.0.1:{port}/postgres"}
        return subprocess.run(sys.argv[1:], env=env).returncode
    finally:
        subprocess.run(
            as_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
