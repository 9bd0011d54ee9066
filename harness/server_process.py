"""Run the service the way the PaaS does: the Procfile's `web` command, as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(process_type: str = "web") -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            return command.strip()
    raise LookupError(f"no {process_type} process in the Procfile")


def procfile_env(**overrides: str) -> dict[str, str]:
    """The test's environment, with `python` meaning this virtualenv's, as on a PaaS build."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "WEB_CONCURRENCY": "1",
        **overrides,
    }
    return {key: value for key, value in env.items() if value is not None}


def run_procfile_briefly(
    process_type: str = "web", **overrides: str
) -> subprocess.CompletedProcess:
    """Run a Procfile command expecting it to exit by itself (a refused start)."""
    return subprocess.run(
        procfile_command(process_type),
        shell=True,
        cwd=ROOT,
        env=procfile_env(**{"PORT": "0", **overrides}),
        capture_output=True,
        text=True,
        timeout=30,
    )


class ServerProcess:
    def __init__(self, **env: str) -> None:
        # The test suite's least-privilege role (tests/conftest.py), unless a test says
        # which database to use.
        if "DATABASE_URL" not in env and os.environ.get("RUNTIME_DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["RUNTIME_DATABASE_URL"]
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = procfile_env(PORT=str(self.port), **env)
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a chatty server would block once a pipe's buffer is full.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server

    def start(self, wait_s: float = 20) -> ServerProcess:
        self.process = subprocess.Popen(
            procfile_command(),
            shell=True,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {wait_s}s:\n{self.output()}")

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)

    def stop(self, timeout_s: float = 20) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.process.wait()

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
