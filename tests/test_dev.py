"""`python3 dev.py run` as a developer, an IDE's stop button or a process manager uses it.

dev.py serves its own directory, so each test runs a copy of the project whose `.venv` is
this interpreter's virtualenv: a `.env` or `.data/` written there never touches the
developer's checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT
from tests.pg_proxy import free_port

NOT_COPIED = (".git", ".venv*", ".data", "__pycache__", ".*_cache", ".hypothesis", ".env")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("dev") / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (copy / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return copy


class DevRun:
    """`python dev.py run` in `project`, alone in a new session like a process manager's."""

    def __init__(self, project: Path, **env: str | None) -> None:
        merged = {**os.environ, **env}
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, str(project / "dev.py"), "run"],
            cwd=project,
            env={key: value for key, value in merged.items() if value is not None},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def wait_until_serving(self, port: int, wait_s: float = 60) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dev.py exited early:\n{self.output()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"dev.py did not serve within {wait_s}s:\n{self.output()}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def kill_everything(self) -> None:
        """Cleanup after a failed test: nothing may outlive it."""
        if self.process.poll() is None:
            for process in [*self.descendants(), psutil.Process(self.process.pid)]:
                process.kill()
        self.process.wait()


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop_alone_and_check(run: DevRun, port: int, sig: signal.Signals) -> None:
    children = run.descendants()
    assert children, "dev.py should be running uvicorn"
    os.kill(run.process.pid, sig)  # the pid alone, not its process group
    try:
        # a clean stop on request, said as a shell says it: 128 + the signal's number
        assert run.process.wait(timeout=30) == 128 + sig, run.output()
    except subprocess.TimeoutExpired:
        run.kill_everything()
        raise AssertionError(f"dev.py did not exit on {sig.name}:\n{run.output()}") from None
    assert all(gone(child) for child in children), "uvicorn outlived dev.py"
    assert not port_is_open(port)


def test_sigterm_to_dev_py_alone_stops_uvicorn_and_the_banner_names_port_from_env(project):
    port = free_port()
    run = DevRun(project, PORT=str(port), HOST=None)
    try:
        run.wait_until_serving(port)
    except AssertionError:
        run.kill_everything()
        raise
    assert f"dev: serving on http://127.0.0.1:{port} " in run.output()
    stop_alone_and_check(run, port, signal.SIGTERM)


def test_sigint_to_dev_py_alone_stops_uvicorn_and_port_and_host_come_from_dot_env(project):
    port = free_port()
    (project / ".env").write_text(f"PORT={port}\nHOST=127.0.0.1\n")
    try:
        run = DevRun(project, PORT=None, HOST=None)
        try:
            run.wait_until_serving(port)
        except AssertionError:
            run.kill_everything()
            raise
        assert f"dev: serving on http://127.0.0.1:{port} " in run.output()
        stop_alone_and_check(run, port, signal.SIGINT)
    finally:
        (project / ".env").unlink()


def test_sigterm_stops_the_embedded_postgresql_that_dev_py_started(project):
    port = free_port()
    run = DevRun(project, PORT=str(port), HOST=None, DATABASE_URL=None)
    try:
        run.wait_until_serving(port, wait_s=90)
    except AssertionError:
        run.kill_everything()
        raise
    assert "dev: using the embedded PostgreSQL" in run.output()
    postmaster_pid = int((project / ".data/pg/postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(postmaster_pid)
    stop_alone_and_check(run, port, signal.SIGTERM)
    try:
        postmaster.wait(timeout=15)
    except psutil.TimeoutExpired:
        postmaster.kill()
        raise AssertionError("the embedded PostgreSQL outlived dev.py") from None


def test_a_port_that_is_not_a_number_is_refused_in_one_line(project):
    run = DevRun(project, PORT="abc")
    assert run.process.wait(timeout=30) == 1
    lines = [line for line in run.output().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("invalid configuration: PORT: Input should be a valid integer")


def installed_python(version: str) -> str | None:
    """A python3.X that really runs (a pyenv shim may exist for a version not selected)."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    return None


def test_python_3_10_is_told_in_one_line_that_it_needs_3_11():
    python310 = installed_python("3.10")
    if python310 is None:
        pytest.skip("no Python 3.10 on this machine")
    result = subprocess.run(
        [python310, str(ROOT / "dev.py"), "check"], capture_output=True, text=True, timeout=30
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert lines == [f"dev: needs Python 3.11+, this is {lines[0].split()[-1]}"]
    assert lines[0].split()[-1].startswith("3.10.")
    assert result.stdout == ""


def test_env_example_lists_every_setting_and_works_as_a_dot_env():
    from settings import Settings

    example = ROOT / ".env.example"
    names = {
        line.partition("=")[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert names == {name.upper() for name in Settings.model_fields}
    copied = Settings(_env_file=example)  # a developer's `cp .env.example .env`
    assert (copied.host, copied.port) == (None, 8000)
