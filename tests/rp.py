"""Relying parties run for a test's duration: an ASGI app under uvicorn, or a Node script.

Each is a real program on its own loopback port that the provider redirects the user's browser
to, so callbacks, form_post bodies and logout redirects cross real sockets.
"""

import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import uvicorn

NODE_DIR = Path(__file__).parent / "e2e" / "node"


def loopback_socket() -> socket.socket:
    """Return a socket bound to a free loopback port, ready to hand to a server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def origin_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@contextmanager
def serve_asgi(app, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` with uvicorn on ``sock`` in a thread until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ASGI app did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class NodeRP:
    """A Node relying-party script that reports what it sees as JSON lines on stdout.

    Each line is an object with an ``event`` name; ``{"event": "error", ...}`` means the script
    failed. The test answers on stdin when the script waits for it (e.g. for its client).
    """

    def __init__(self, script: str, env: dict[str, str] | None = None) -> None:
        node = shutil.which("node")
        assert node, "node is not installed"
        assert (NODE_DIR / "node_modules" / "openid-client").is_dir(), (
            f"Node dependencies are missing: run `npm ci --prefix {NODE_DIR}` (make test does)"
        )
        self._events: queue.Queue[dict | None] = queue.Queue()
        self._stderr: list[str] = []
        self.process = subprocess.Popen(
            [node, str(NODE_DIR / script)],
            cwd=NODE_DIR,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Popen types its pipes as optional; all three were asked for above.
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self._script_in: IO[str] = self.process.stdin
        self._script_out: IO[str] = self.process.stdout
        self._script_err: IO[str] = self.process.stderr
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        for line in self._script_out:
            self._events.put(json.loads(line))
        self._events.put(None)

    def _read_stderr(self) -> None:
        for line in self._script_err:
            self._stderr.append(line)

    def send(self, message: dict) -> None:
        self._script_in.write(json.dumps(message) + "\n")
        self._script_in.flush()

    def expect(self, event: str, timeout: float = 30) -> dict:
        """Return the next event, which must be ``event``; fail with the script's report if not."""
        try:
            received = self._events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {event!r} from the Node RP in {timeout}s: {self.stderr}") from None
        if received is None:
            code = self.process.wait(5)
            raise AssertionError(f"the Node RP exited ({code}) before {event!r}: {self.stderr}")
        assert received["event"] == event, f"expected {event!r}, got {received}; stderr: {self.stderr}"
        return received

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)[-2000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._script_in.close()
        # The readers end at end of file; only then are their pipes closed under them.
        for reader in self._readers:
            reader.join(5)
        self._script_out.close()
        self._script_err.close()
