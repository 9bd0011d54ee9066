"""/docs and /redoc render in a real browser with nothing fetched from another host.

Each page is opened in headless Chromium on the running server and every request the page
makes is recorded. One to another host counts as fetched unless the page's own
Content-Security-Policy stopped it inside the browser (ReDoc always asks for Redocly's
logo); anything else bound elsewhere is also refused here, so a miss fails fast instead of
waiting on a network this machine may not have.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import expect

from harness.server_process import ServerProcess

RENDER_TIMEOUT_MS = 20_000
# How Playwright reports a request the page's Content-Security-Policy stopped in the browser
# (Chromium's own name for it, and the short one Playwright gives it).
BLOCKED_BY_POLICY = {"csp", "net::ERR_BLOCKED_BY_CSP"}
# An absolute or scheme-relative URL in src/href/url(...) or in text: what names a host.
URL_HOST = re.compile(r"""(?:\bhttps?:|["'(=\s])//([^/\s"'<>)]+)""", re.IGNORECASE)


class RecordedPage:
    """A page whose every request is written down, with the ones its policy blocked."""

    def __init__(self, page, server: ServerProcess) -> None:
        self.page = page
        self.origin = urlsplit(server.base_url).netloc
        self.requested: list[str] = []
        self.blocked_by_policy: list[str] = []
        page.on("request", self._record)
        page.on("requestfailed", self._record_failure)

    def _record(self, request) -> None:
        if urlsplit(request.url).scheme not in ("data", "blob"):  # in-page content, no fetch
            self.requested.append(request.url)

    def _record_failure(self, request) -> None:
        if request.failure in BLOCKED_BY_POLICY:
            self.blocked_by_policy.append(request.url)

    async def fetched_elsewhere(self) -> list[str]:
        """Requests to another host that the browser did not stop before they left."""
        await self.page.wait_for_load_state("networkidle")  # every request answered or failed
        return [
            url
            for url in self.requested
            if urlsplit(url).netloc != self.origin and url not in self.blocked_by_policy
        ]


@pytest.fixture
async def open_page(browser, server):
    contexts = []

    async def opener(path: str) -> RecordedPage:
        context = await browser.new_context()
        contexts.append(context)
        recorded = RecordedPage(await context.new_page(), server)

        async def only_the_server(route) -> None:
            url = urlsplit(route.request.url)
            if url.scheme in ("data", "blob") or url.netloc == recorded.origin:
                await route.continue_()
            else:
                await route.abort("blockedbyclient")  # still recorded: the test fails

        await context.route("**/*", only_the_server)
        await recorded.page.goto(f"{server.base_url}{path}", wait_until="load")
        return recorded

    yield opener
    for context in contexts:
        await context.close()


@pytest.fixture(scope="module")
def audits_summaries(server) -> list[str]:
    """The summaries of the audits operations, as the OpenAPI document names them."""
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    summaries = [
        operation["summary"]
        for path, operations in document["paths"].items()
        if path.startswith("/api/v1/audits")
        for operation in operations.values()
    ]
    assert {"Record an audit event", "List audit records"} <= set(summaries)
    return summaries


async def test_swagger_ui_lists_every_audits_operation_by_its_summary(open_page, audits_summaries):
    docs = await open_page("/docs")
    rendered = docs.page.locator(".opblock-summary-description")
    await expect(rendered.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)

    shown = await rendered.all_inner_texts()
    for summary in audits_summaries:
        assert summary in shown
    assert await docs.fetched_elsewhere() == []
    assert any(url.endswith("/docs-assets/swagger-ui-bundle.js") for url in docs.requested)


async def test_swagger_ui_try_it_out_calls_the_same_server(open_page):
    docs = await open_page("/docs")
    list_records = docs.page.locator(
        ".opblock", has=docs.page.locator(".opblock-summary-description", has_text="List audit")
    )
    await list_records.locator(".opblock-summary").click(timeout=RENDER_TIMEOUT_MS)
    await list_records.get_by_role("button", name="Try it out").click()
    await list_records.get_by_role("button", name="Execute").click()

    status = list_records.locator(".live-responses-table tr.response .response-col_status").first
    await expect(status).to_have_text("200", timeout=RENDER_TIMEOUT_MS)
    called = [url for url in docs.requested if urlsplit(url).path == "/api/v1/audits"]
    assert called and await docs.fetched_elsewhere() == []


async def test_redoc_lists_every_audits_operation_by_its_summary(open_page, audits_summaries):
    redoc = await open_page("/redoc")
    for summary in audits_summaries:
        # The heading's text is the summary; its anchor link adds only an accessible name.
        heading = redoc.page.locator("h2", has_text=re.compile(rf"^\s*{re.escape(summary)}\s*$"))
        await expect(heading).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    assert await redoc.fetched_elsewhere() == []
    assert any(url.endswith("/docs-assets/redoc.standalone.js") for url in redoc.requested)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_html_names_no_other_host(server, path):
    html = httpx.get(f"{server.base_url}{path}", timeout=10).text
    assert "<script" in html  # the page itself, not an error
    hosts = set(URL_HOST.findall(html))
    assert hosts <= {urlsplit(server.base_url).netloc}, hosts


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_forbid_the_browser_any_other_host(server, path):
    policy = httpx.get(f"{server.base_url}{path}", timeout=10).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for directive, sources in directives.items():
        assert "*" not in sources and "http" not in sources, directive
