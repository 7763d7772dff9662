"""``groundcrew serve`` as a child process on a free loopback port, for the benchmarks that drive a real server and
for the browser tests (tests/console/conftest.py), which start it the same way.

It runs in a process group of its own, so the end also stops any solver worker it forked, and the caller gets it only
once ``/health`` answers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=5) as res:
        return res.status == 200
    return False


@contextlib.contextmanager
def serve_process(*, cli: list[str], env: dict[str, str], cwd: Path, log_path: Path,
                  startup_s: float = 120) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``cli serve`` with ``env`` and yield (base URL, process) once it is healthy; stop its whole process
    group at the end (SIGTERM, then SIGKILL after 15 s). The server's output goes to ``log_path``; its last lines
    are in the error when it exits or does not answer within ``startup_s`` seconds."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*cli, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=cwd, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + startup_s
            while not _healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited: {log_path.read_text(errors='replace')[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start within {startup_s:.0f} s: "
                                       f"{log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.3)
            yield url, proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
