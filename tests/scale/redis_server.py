"""A throwaway ``redis-server`` on a free loopback port, persistence off, for the tests."""

from __future__ import annotations

import selectors
import shutil
import socket
import subprocess
import time

READY = b"Ready to accept connections"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Start, kill and restart one redis-server; ``url`` stays the same across restarts."""

    def __init__(self, password: str | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(
                "redis-server is not installed (Debian: apt-get install redis-server)"
            )
        self.executable = executable
        self.port = free_port()
        self.password = password
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                "",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        # Wait for the line that says it accepts connections (never a fixed sleep).
        deadline = time.monotonic() + timeout
        seen = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while READY not in seen:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"redis-server did not start: {seen.decode(errors='replace')}"
                    )
                if selector.select(left):
                    chunk = self.process.stdout.read1(4096)  # type: ignore[attr-defined]
                    if not chunk:
                        continue
                    seen += chunk

    def stop(self) -> None:
        """SIGKILL: an outage as abrupt as a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def cli(self, *args: str) -> str:
        """``redis-cli`` against this server (for PUBSUB NUMSUB and the like)."""
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *auth, *args],
            capture_output=True,
            timeout=10,
            check=True,
        )
        return result.stdout.decode()
