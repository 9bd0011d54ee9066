"""The trail viewer at /ui, in headless Chromium against the real server with seeded records.

The module has a database of its own (so it can seed exact data and tamper with a record as
a superuser), one server on it with AI pointed at the loopback fake, and one with keys
required and no AI. Every page records its requests: none may leave for another host, and
the page's own Content-Security-Policy must never have to refuse anything it asked for.

UI_SCREENSHOTS_DIR=docs/screenshots makes the tests save what they show there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from access.keys import mint_key
from harness.fake_openai import FakeOpenAI, ok
from harness.server_process import ServerProcess
from tests.conftest import database_url_for, drop_database

RENDER_TIMEOUT_MS = 15_000
SEAL_TIMEOUT_S = 20
API_SEEDED = 24
IMPORTED = 6
IMPORTER = "importer (0a1b2c3d4e5f)"
SCREENSHOTS = os.environ.get("UI_SCREENSHOTS_DIR")
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}


# ---------------------------------------------------------------- the module's world


@pytest.fixture(scope="module")
async def ui_database(server_url, template_database):
    name = f"looped_needle_ui_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield database_url_for(server_url, name)
    await asyncio.to_thread(drop_database, server_url, name)


@pytest.fixture(scope="module")
def fake_ai():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


async def started(**env: str) -> ServerProcess:
    return await asyncio.to_thread(ServerProcess(**env).start)


@pytest.fixture(scope="module")
async def ui_server(ui_database, fake_ai):
    running = await started(
        DATABASE_URL=ui_database,
        AUTH_REQUIRED="false",
        OPENAI_API_KEY="sk-test-ui-0123456789abcdef",
        OPENAI_BASE_URL=fake_ai.base_url,
        OPENAI_MODEL="gpt-test",
    )
    yield running
    await asyncio.to_thread(running.stop)


@pytest.fixture(scope="module")
async def locked_server(ui_database):
    """Keys required, and no OpenAI key: the AI box must say it is not set up."""
    running = await started(DATABASE_URL=ui_database, AUTH_REQUIRED="true", OPENAI_API_KEY="")
    yield running
    await asyncio.to_thread(running.stop)


def api_body(index: int, entity_id: uuid.UUID) -> dict:
    login = index % 3 == 0
    return {
        "action_type": "login" if login else ("update" if index % 3 == 1 else "export"),
        "entity_type": "session" if login else "invoice",
        "entity_id": str(entity_id),
        "user_id": str(uuid.uuid4()),
        "status": "failure" if login and index % 2 else "success",
        "details": {"reason": "bad password"} if login and index % 2 else {"n": index},
        "ip_address": "203.0.113.7",
        "user_agent": "viewer-test/1.0",
    }


async def wait_until_sealed(db: asyncpg.Connection, base_url: str) -> None:
    journaled = await db.fetchval("SELECT count(*) FROM journal_entry")
    deadline = asyncio.get_running_loop().time() + SEAL_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while True:
            answer = await client.get("/api/v1/ledger/checkpoint")
            if answer.status_code == 200 and answer.json()["tree_size"] >= journaled:
                return
            assert asyncio.get_running_loop().time() < deadline, "the sealer did not catch up"
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def seeded(ui_server, ui_database) -> dict:
    """26 records through the API (the newest changed once), 6 imported days ago, all sealed."""
    invoice = uuid.uuid4()
    async with httpx.AsyncClient(base_url=ui_server.base_url, timeout=10) as client:
        victim = (await client.post("/api/v1/audits", json=api_body(1, uuid.uuid4()))).json()
        for index in range(API_SEEDED):
            answer = await client.post("/api/v1/audits", json=api_body(index, uuid.uuid4()))
            assert answer.status_code == 201, answer.text
        changed = (
            await client.post(
                "/api/v1/audits",
                json={
                    "action_type": "update",
                    "entity_type": "invoice",
                    "entity_id": str(invoice),
                    "status": "pending",
                    "details": {"field": "amount", "from": 100, "to": 120},
                },
            )
        ).json()
        answer = await client.put(
            f"/api/v1/audits/{changed['id']}",
            json={"status": "success", "details": {"approved_by": "finance"}},
        )
        assert answer.status_code == 200, answer.text
    db = await asyncpg.connect(ui_database)
    try:
        # Older history, as an import would bring it: the journal records each insert.
        async with db.transaction():
            await db.execute("SELECT set_config('looped_needle.actor', $1, true)", IMPORTER)
            for days in range(1, IMPORTED + 1):
                await db.execute(
                    """INSERT INTO audit (id, action_type, entity_type, entity_id, status,
                                          details, created_at, recorded_by)
                       VALUES ($1, $2, 'invoice', $3, $4, '{"imported": true}', $5, $6)""",
                    uuid.uuid4(),
                    "create" if days % 2 else "delete",
                    uuid.uuid4(),
                    "failure" if days == 3 else "success",
                    datetime.now(UTC) - timedelta(days=days, hours=1),
                    IMPORTER,
                )
        await wait_until_sealed(db, ui_server.base_url)
    finally:
        await db.close()
    return {"changed": changed, "victim": victim, "total": API_SEEDED + 2 + IMPORTED}


async def api_get(server: ServerProcess, path: str, **params) -> dict:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        answer = await client.get(f"/api/v1{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def listed_ids(server: ServerProcess, **filters) -> list[str]:
    """Every matching id, newest first, as the API lists them (offset pages of 50)."""
    ids, offset = [], 0
    while True:
        page = await api_get(server, "/audits", **filters, limit=50, offset=offset)
        ids += [item["id"] for item in page["items"]]
        offset += 50
        if offset >= page["total"]:
            return ids


# ---------------------------------------------------------------- pages, recorded


class Recorded:
    """A page whose requests, console errors and policy refusals are all written down."""

    def __init__(self, page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.requested: list[str] = []
        self.console_errors: list[str] = []
        self.statuses: list[int] = []
        page.on("request", lambda request: self.requested.append(request.url))
        page.on("response", lambda response: self.statuses.append(response.status))
        page.on(
            "console",
            lambda message: message.type == "error" and self.console_errors.append(message.text),
        )

    def elsewhere(self) -> list[str]:
        return [
            url
            for url in self.requested
            if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != self.origin
        ]

    async def assert_clean(self) -> None:
        """Nothing fetched from another host; no script or style the policy had to refuse."""
        await self.page.wait_for_load_state("networkidle")
        assert self.elsewhere() == []
        refused = [text for text in self.console_errors if "Content Security Policy" in text]
        assert refused == []

    async def snap(self, name: str, full_page: bool = True) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once
            await self.page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=full_page)


@pytest.fixture
async def open_ui(browser):
    contexts = []

    async def opener(server: ServerProcess, path: str, width: int = 1280, height: int = 900):
        context = await browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        origin = urlsplit(server.base_url).netloc

        async def only_the_server(route) -> None:
            url = urlsplit(route.request.url)
            if url.scheme in ("data", "blob") or url.netloc == origin:
                await route.continue_()
            else:
                await route.abort("blockedbyclient")  # still recorded: the test fails

        await context.route("**/*", only_the_server)
        recorded = Recorded(await context.new_page(), origin)
        await recorded.page.goto(f"{server.base_url}{path}", wait_until="load")
        return recorded

    yield opener
    for context in contexts:
        await context.close()


async def shown_ids(page) -> list[str]:
    rows = page.locator("table.records tbody tr")
    return [await row.get_attribute("data-id") for row in await rows.all()]


# ---------------------------------------------------------------- the served files


@pytest.mark.parametrize("path", ["/ui", "/ui/", "/ui/audits/x", "/ui/glance", "/ui/assets/app.js"])
def test_every_viewer_file_comes_with_a_strict_policy(ui_server, path):
    answer = httpx.get(f"{ui_server.base_url}{path}", timeout=10)
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives == CSP_DIRECTIVES
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_the_viewer_names_no_other_host_and_runs_no_inline_code(ui_server):
    html = httpx.get(f"{ui_server.base_url}/ui", timeout=10).text
    assert re.findall(r"(?:https?:)?//[^\s\"'<>]+", html) == []
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert "style=" not in html and "<style" not in html


# ---------------------------------------------------------------- the trail


async def test_the_trail_shows_the_seeded_records_newest_first(open_ui, ui_server, seeded):
    trail = await open_ui(ui_server, "/ui?limit=50")
    rows = trail.page.locator("table.records tbody tr")
    await expect(rows).to_have_count(seeded["total"], timeout=RENDER_TIMEOUT_MS)

    assert await shown_ids(trail.page) == await listed_ids(ui_server)
    first = rows.first
    newest = seeded["changed"]
    assert await first.get_attribute("data-id") == newest["id"]
    await expect(first).to_contain_text(newest["action_type"])
    summary = trail.page.get_by_role("status").first
    await expect(summary).to_contain_text(f"{seeded['total']} records")
    await trail.assert_clean()
    await trail.snap("trail", full_page=False)


async def test_filters_narrow_the_trail_and_survive_a_reload(open_ui, ui_server, seeded):
    trail = await open_ui(ui_server, "/ui")
    page = trail.page
    await page.get_by_label("Action").select_option("login")
    await page.get_by_label("Status").select_option("failure")
    await page.get_by_role("button", name="Apply filters").click()

    await expect(page).to_have_url(re.compile(r"action_type=login"))
    assert parse_qs(urlsplit(page.url).query) == {"action_type": ["login"], "status": ["failure"]}
    wanted = await listed_ids(ui_server, action_type="login", status="failure")
    assert 0 < len(wanted) < seeded["total"]
    await expect(page.locator("table.records tbody tr")).to_have_count(len(wanted))
    assert await shown_ids(page) == wanted

    await page.reload()
    await expect(page.locator("table.records tbody tr")).to_have_count(len(wanted))
    assert await shown_ids(page) == wanted
    await expect(page.get_by_label("Action")).to_have_value("login")
    await expect(page.get_by_label("Status")).to_have_value("failure")
    await trail.assert_clean()


async def test_a_details_filter_finds_the_records_whose_details_contain_it(
    open_ui, ui_server, seeded
):
    trail = await open_ui(ui_server, "/ui")
    await trail.page.get_by_label("Details contain (JSON object)").fill('{"reason":"bad password"}')
    await trail.page.get_by_role("button", name="Apply filters").click()

    await expect(trail.page).to_have_url(re.compile("details="))
    wanted = await listed_ids(ui_server, details='{"reason": "bad password"}')
    assert wanted and len(wanted) < seeded["total"]
    await expect(trail.page.locator("table.records tbody tr")).to_have_count(len(wanted))
    assert await shown_ids(trail.page) == wanted


async def test_export_downloads_the_current_filters_as_the_export_route_does(
    open_ui, ui_server, seeded
):
    trail = await open_ui(ui_server, "/ui?status=failure")
    await expect(trail.page.locator("table.records tbody tr").first).to_be_visible()
    async with trail.page.expect_download() as started:
        await trail.page.get_by_role("button", name="Export NDJSON").click()
    download = await started.value
    saved = await download.path()
    lines = Path(saved).read_text().splitlines()  # noqa: ASYNC240 - a small file
    assert [json.loads(line)["id"] for line in lines] == await listed_ids(
        ui_server, status="failure"
    )
    assert download.suggested_filename.endswith(".ndjson")
    await trail.assert_clean()


async def test_a_details_filter_that_is_not_json_is_refused_in_the_page(open_ui, ui_server, seeded):
    trail = await open_ui(ui_server, "/ui")
    await trail.page.get_by_label("Details contain (JSON object)").fill("reason: bad password")
    await trail.page.get_by_role("button", name="Apply filters").click()

    await expect(trail.page.get_by_role("alert")).to_contain_text("must be a JSON object")
    assert "details" not in trail.page.url


async def test_paging_older_reaches_the_oldest_record_and_newer_comes_back(
    open_ui, ui_server, seeded
):
    trail = await open_ui(ui_server, "/ui?limit=10")
    page = trail.page
    older = page.get_by_role("link", name="Older →")
    await expect(page.locator("table.records tbody tr")).to_have_count(10)
    seen = await shown_ids(page)
    pages = [seen]
    while await older.count():
        before = page.url
        await older.click()
        await expect(page).not_to_have_url(before)
        await expect(page.locator("table.records tbody tr").first).not_to_have_attribute(
            "data-id", pages[-1][0]
        )
        pages.append(await shown_ids(page))
        seen += pages[-1]

    assert "cursor=" in page.url and "offset=" not in page.url  # keyset pages, not offsets
    everything = await listed_ids(ui_server)
    assert seen == everything and len(pages) == -(-seeded["total"] // 10)
    await expect(page.get_by_text("Older →")).to_have_attribute("aria-disabled", "true")

    await page.get_by_role("link", name="← Newer").click()
    await expect(page.locator("table.records tbody tr").first).to_have_attribute(
        "data-id", pages[-2][0]
    )
    await page.reload()  # the page is in the URL
    await expect(page.locator("table.records tbody tr").first).to_have_attribute(
        "data-id", pages[-2][0]
    )
    assert await shown_ids(page) == pages[-2]
    await trail.assert_clean()


# ---------------------------------------------------------------- a record and its proof


async def test_a_record_page_shows_its_history_and_verified(open_ui, ui_server, seeded):
    changed = seeded["changed"]
    record = await open_ui(ui_server, f"/ui/audits/{changed['id']}")
    page = record.page
    await expect(page.locator("#verify-badge")).to_have_text("verified", timeout=RENDER_TIMEOUT_MS)

    history = page.locator("table.history tbody tr")
    await expect(history).to_have_count(2)
    await expect(history.nth(0)).to_contain_text("create")
    await expect(history.nth(1)).to_contain_text("update: details, status")
    shown_details = await page.locator('dd[data-field="details"] pre').inner_text()
    current = await api_get(ui_server, f"/audits/{changed['id']}")
    assert json.loads(shown_details) == current["details"]
    assert '\n  "approved_by": "finance"' in shown_details  # pretty-printed, not one line
    for field in ("entity_id", "status", "ledger_seq"):
        await expect(page.locator(f'dd[data-field="{field}"]')).to_have_text(str(current[field]))
    # Trust on first use: the key the server names is now the one this browser checks with.
    trusted = await page.evaluate("JSON.parse(localStorage.getItem('looped-needle.verifier-key'))")
    assert trusted["key"] == os.environ["LEDGER_VERIFIER_KEY"] and trusted["source"] == "first-use"
    await record.assert_clean()
    await record.snap("record")


async def test_a_record_changed_behind_the_api_shows_failed(
    open_ui, ui_server, seeded, ui_database
):
    victim = seeded["victim"]["id"]
    db = await asyncpg.connect(ui_database)  # a superuser, on this module's own database
    try:
        await db.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        await db.execute(
            """UPDATE audit SET details = '{"reason": "nothing to see"}' WHERE id = $1""",
            uuid.UUID(victim),
        )
        await db.execute("ALTER TABLE audit ENABLE TRIGGER USER")
    finally:
        await db.close()

    record = await open_ui(ui_server, f"/ui/audits/{victim}")
    badge = record.page.locator("#verify-badge")
    await expect(badge).to_have_text("failed", timeout=RENDER_TIMEOUT_MS)
    await expect(record.page.locator("#verify-reason")).to_contain_text(
        "the API serves details different from the last journal entry"
    )
    await record.snap("record-failed")


async def test_a_checkpoint_not_signed_by_the_pinned_key_shows_failed(open_ui, ui_server, seeded):
    from ledger.note import generate_key

    _, other_key = generate_key("looped-needle.test/audit")  # same name, another key
    settings = await open_ui(ui_server, "/ui/settings")
    page = settings.page
    await page.get_by_label("Pin a verifier key").fill(other_key)
    await page.get_by_role("button", name="Pin this key").click()
    await expect(page.locator("#trusted-key")).to_have_text(other_key)
    await settings.snap("keys")

    await page.goto(f"{ui_server.base_url}/ui/audits/{seeded['changed']['id']}")
    await expect(page.locator("#verify-badge")).to_have_text("failed", timeout=RENDER_TIMEOUT_MS)
    await expect(page.locator("#verify-reason")).to_contain_text("no signature by the trusted key")


def lan_address() -> str | None:
    """An address of this machine that is not loopback: to a browser, not a secure context.

    Connecting a UDP socket sends nothing; it only asks the kernel which local address would
    carry traffic towards a private address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_over_plain_http_from_another_host_it_says_it_cannot_verify(
    open_ui, ui_server, seeded
):
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to reach the server by")
    remote = SimpleNamespace(base_url=ui_server.base_url.replace("127.0.0.1", address))
    record = await open_ui(remote, f"/ui/audits/{seeded['changed']['id']}")
    await expect(record.page.locator("#verify-reason")).to_have_text(
        "cannot verify here: needs HTTPS", timeout=RENDER_TIMEOUT_MS
    )
    await expect(record.page.locator("#verify-badge")).to_have_text("cannot verify here")
    await expect(record.page.locator("table.history tbody tr")).to_have_count(2)


# ---------------------------------------------------------------- the browser's crypto


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inclusion_cases() -> list[dict]:
    """Proofs from ledger/merkle.py (itself checked against pymerkle), and broken variants."""
    from ledger import merkle

    cases = []
    for size in (1, 2, 3, 5, 7, 8, 13):
        store = merkle.MemoryStore.from_leaves(f"leaf {i}".encode() for i in range(size))
        root = store.root(size)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store.get_node)
            leaf = merkle.leaf_hash(f"leaf {index}".encode())
            good = {"leaf": b64(leaf), "index": index, "size": size, "root": b64(root)}
            cases.append({**good, "proof": [b64(p) for p in proof], "valid": True})
            if index + 1 < size:
                cases.append({**good, "index": index + 1, "proof": [b64(p) for p in proof]})
            if proof:
                cases.append({**good, "proof": [b64(p) for p in proof[:-1]]})
            cases.append({**good, "proof": [b64(p) for p in [*proof, root]]})
            other_root = b64(merkle.node_hash(root, root))
            cases.append({**good, "root": other_root, "proof": [b64(p) for p in proof]})
    for case in cases:
        case.setdefault("valid", False)
        try:
            merkle.check_inclusion(
                base64.b64decode(case["leaf"]),
                case["index"],
                case["size"],
                [base64.b64decode(p) for p in case["proof"]],
                base64.b64decode(case["root"]),
            )
            case["python"] = True
        except merkle.InvalidProof:
            case["python"] = False
    return cases


CHECK_INCLUSION_IN_PAGE = """async (cases) => {
  const v = await import("./assets/verify.js");
  const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const results = [];
  for (const c of cases) {
    try {
      await v.checkInclusion(bytes(c.leaf), c.index, c.size, c.proof.map(bytes), bytes(c.root));
      results.push(true);
    } catch (error) {
      results.push(false);
    }
  }
  return results;
}"""

OPEN_NOTE_IN_PAGE = """async ([note, key]) => {
  const v = await import("./assets/verify.js");
  try {
    return v.parseCheckpoint(await v.openNote(note, await v.parseVerifierKey(key))).size;
  } catch (error) {
    return error.message;
  }
}"""


async def test_the_page_checks_inclusion_proofs_as_the_python_verifier_does(open_ui, ui_server):
    cases = inclusion_cases()
    page = (await open_ui(ui_server, "/ui/settings")).page
    in_browser = await page.evaluate(CHECK_INCLUSION_IN_PAGE, cases)
    assert in_browser == [case["python"] for case in cases]
    assert [case["python"] for case in cases] == [case["valid"] for case in cases]


async def test_the_page_checks_checkpoint_signatures_as_the_python_verifier_does(
    open_ui, ui_server
):
    from ledger.note import Checkpoint, generate_key, parse_signer, sign_checkpoint

    signer_key, verifier_key = generate_key("example.test/log")
    _, stranger_key = generate_key("example.test/log")
    note = sign_checkpoint(Checkpoint("example.test/log", 42, bytes(32)), parse_signer(signer_key))
    forged = note.replace("\n42\n", "\n43\n")
    wrong_id = verifier_key.replace(verifier_key.split("+")[1], "00000000")
    page = (await open_ui(ui_server, "/ui/settings")).page

    assert await page.evaluate(OPEN_NOTE_IN_PAGE, [note, verifier_key]) == 42
    assert "does not verify" in await page.evaluate(OPEN_NOTE_IN_PAGE, [forged, verifier_key])
    assert "no signature by the trusted key" in await page.evaluate(
        OPEN_NOTE_IN_PAGE, [note, stranger_key]
    )
    assert "key id does not match" in await page.evaluate(OPEN_NOTE_IN_PAGE, [note, wrong_id])


# ---------------------------------------------------------------- at a glance


async def test_the_chart_draws_one_bar_per_bucket_of_the_stats_route(open_ui, ui_server, seeded):
    stats = await api_get(ui_server, "/audits/stats", group_by="status", interval="day")
    per_bucket: dict[str, int] = {}
    for bucket in stats["buckets"]:
        per_bucket[bucket["start"]] = per_bucket.get(bucket["start"], 0) + bucket["count"]
    assert len(per_bucket) > IMPORTED  # the imported days, and today

    glance = await open_ui(ui_server, "/ui/glance?group_by=status&interval=day")
    bars = glance.page.locator("svg.chart g.bar")
    await expect(bars).to_have_count(len(per_bucket), timeout=RENDER_TIMEOUT_MS)
    drawn = {
        await bar.get_attribute("data-start"): int(await bar.get_attribute("data-total"))
        for bar in await bars.all()
    }
    assert drawn == per_bucket
    legend = await glance.page.locator(".legend li").all_inner_texts()
    assert sorted(item.split(" ")[0] for item in legend) == sorted(
        {bucket["group"] for bucket in stats["buckets"]}
    )
    await glance.assert_clean()
    await glance.snap("glance")

    await glance.page.get_by_label("Group by").select_option("action_type")
    await expect(glance.page).to_have_url(re.compile("group_by=action_type"))
    await expect(glance.page.locator(".legend li")).to_contain_text(["login"])


# ---------------------------------------------------------------- ask


def chosen(**filters) -> str:
    """What the model answers: every list filter, null unless chosen."""
    from audits.schemas import AuditFilters

    return json.dumps({name: filters.get(name) for name in AuditFilters.model_fields})


async def test_ask_shows_the_filters_the_model_chose_and_opens_them_in_the_trail(
    open_ui, ui_server, seeded, fake_ai
):
    fake_ai.script(ok(chosen(action_type="login", status="failure")))
    ask = await open_ui(ui_server, "/ui/ask")
    page = ask.page
    await page.get_by_label("Your question").fill("failed logins")
    await page.get_by_role("button", name="Ask").click()

    form = page.get_by_role("form", name="Chosen filters")
    await expect(form.get_by_label("Action")).to_have_value("login", timeout=RENDER_TIMEOUT_MS)
    await expect(form.get_by_label("Status")).to_have_value("failure")
    wanted = await listed_ids(ui_server, action_type="login", status="failure")
    await expect(page.locator("table.records tbody tr")).to_have_count(len(wanted))
    assert await shown_ids(page) == wanted
    assert fake_ai.requests[-1]["messages"][-1]["content"] == "failed logins"
    await ask.snap("ask")

    await form.get_by_label("Status").select_option("success")  # edited before applying
    await form.get_by_role("button", name="Show in the trail").click()
    await expect(page).to_have_url(re.compile(r"/ui\?"))
    assert parse_qs(urlsplit(page.url).query) == {"action_type": ["login"], "status": ["success"]}
    wanted = await listed_ids(ui_server, action_type="login", status="success")
    await expect(page.locator("table.records tbody tr")).to_have_count(len(wanted))
    await ask.assert_clean()


# ---------------------------------------------------------------- keys required, no AI


async def minted_key(database_url: str, *scopes: str) -> str:
    minted = mint_key()
    db = await asyncpg.connect(database_url)
    try:
        await db.execute(
            "INSERT INTO api_key (id, name, prefix, secret_hash, scopes) "
            "VALUES ($1, $2, $3, $4, $5)",
            uuid.uuid4(),
            "viewer",
            minted.prefix,
            minted.secret_hash,
            list(scopes),
        )
    finally:
        await db.close()
    return minted.key


async def test_with_keys_required_it_asks_once_and_keeps_the_key_out_of_urls_and_cookies(
    open_ui, locked_server, ui_database, seeded
):
    key = await minted_key(ui_database, "audits:read", "ai")
    trail = await open_ui(locked_server, "/ui")
    page = trail.page
    dialog = page.get_by_role("dialog", name="This service needs an API key")
    await expect(dialog).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    await trail.snap("api-key", full_page=False)
    await dialog.get_by_label("API key").fill(mint_key().key)  # well-formed, never stored
    await dialog.get_by_role("button", name="Use this key").click()
    await expect(dialog.get_by_text("The key given earlier was refused")).to_be_visible()
    await dialog.get_by_label("API key").fill(key)
    await dialog.get_by_role("button", name="Use this key").click()

    await expect(page.locator("table.records tbody tr")).to_have_count(20)
    await page.locator("table.records tbody tr a").first.click()
    await expect(page.locator("#verify-badge")).to_have_text("verified", timeout=RENDER_TIMEOUT_MS)
    await page.reload()
    await expect(page.locator("table.history tbody tr").first).to_be_visible()
    await expect(dialog).to_be_hidden()

    await page.get_by_role("link", name="Ask").click()
    await page.get_by_label("Your question").fill("anything odd today?")
    await page.get_by_role("button", name="Ask").click()
    await expect(page.get_by_role("alert")).to_contain_text("not set up on this server")

    # The unknown key was refused once; the good one, asked for once, went with every call.
    assert trail.statuses.count(401) == 2
    assert await page.context.cookies() == []
    assert not [url for url in trail.requested if key in url or key.split("_")[2] in url]
    await trail.assert_clean()


# ---------------------------------------------------------------- a phone


@pytest.mark.parametrize("view", ["trail", "record", "glance"])
async def test_the_viewer_fits_a_phone_width_screen(open_ui, ui_server, seeded, view):
    path = {
        "trail": "/ui",
        "record": f"/ui/audits/{seeded['changed']['id']}",
        "glance": "/ui/glance",
    }[view]
    phone = await open_ui(ui_server, path, width=390, height=844)
    ready = {
        "trail": "table.records tbody tr",
        "record": "table.history tbody tr",
        "glance": "svg.chart g.bar",
    }[view]
    await expect(phone.page.locator(ready).first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    widths = await phone.page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] == 390
    await phone.snap(f"{view}-390", full_page=False)


VERIFY_IN_PAGE = """async ([auditId, proof, current]) => {
  const v = await import("./assets/verify.js");
  return await v.verifyRecord(auditId, proof, current);
}"""


async def test_a_journal_entry_not_yet_sealed_shows_pending(open_ui, ui_server, seeded):
    record = await api_get(ui_server, f"/audits/{seeded['victim']['id']}")
    leaf = {"v": 1, "seq": 1, "audit_id": record["id"], "change": "create", "record": record}
    unsealed = {
        "audit_id": record["id"],
        "tree_size": 0,
        "root_hash": b64(bytes(32)),
        "entries": [
            {
                "seq": 1,
                "change": "create",
                "leaf_index": None,
                "leaf": b64(json.dumps(leaf).encode()),
                "inclusion_proof": [],
            }
        ],
    }
    page = (await open_ui(ui_server, "/ui/settings")).page

    answer = await page.evaluate(VERIFY_IN_PAGE, [record["id"], unsealed, record])
    assert answer["state"] == "pending" and "not sealed yet" in answer["reason"]
    changed = {**record, "status": "failure" if record["status"] != "failure" else "success"}
    answer = await page.evaluate(VERIFY_IN_PAGE, [record["id"], unsealed, changed])
    assert answer["state"] == "failed" and "status" in answer["reason"]


async def test_the_trail_works_from_the_keyboard_with_a_visible_focus(open_ui, ui_server, seeded):
    trail = await open_ui(ui_server, "/ui")
    page = trail.page
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    first_record = page.locator(f'tr[data-id="{seeded["changed"]["id"]}"] a')
    await first_record.focus()
    outline = await first_record.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline == "solid"
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/ui/audits/[0-9a-f-]{36}$"))
    await expect(page.locator("#verify-badge")).to_have_text("verified", timeout=RENDER_TIMEOUT_MS)


async def test_a_deleted_record_shows_its_last_journaled_state_and_is_verified(
    open_ui, ui_server, seeded, ui_database
):
    async with httpx.AsyncClient(base_url=ui_server.base_url, timeout=10) as client:
        created = await client.post("/api/v1/audits", json=api_body(2, uuid.uuid4()))
        deleted = created.json()["id"]
        assert (await client.delete(f"/api/v1/audits/{deleted}")).status_code == 204
    db = await asyncpg.connect(ui_database)
    try:
        await wait_until_sealed(db, ui_server.base_url)
    finally:
        await db.close()

    record = await open_ui(ui_server, f"/ui/audits/{deleted}")
    page = record.page
    await expect(page.locator("#verify-badge")).to_have_text("verified", timeout=RENDER_TIMEOUT_MS)
    await expect(page.get_by_text("the API no longer serves this record")).to_be_visible()
    await expect(page.locator('dd[data-field="deleted_at"] time')).to_be_visible()
    await expect(page.locator("table.history tbody tr").nth(1)).to_contain_text("delete")
