// The trail: records newest first, filtered by the URL's query, paged older / newer.

import { ROOT, describe, getJson, query, request } from "./api.js";
import { h, replace, shortId, timeElement } from "./dom.js";
import { filterForm, filtersFrom } from "./filters.js";

export const PAGE_SIZES = [10, 20, 50];

export function recordHref(id) {
  return `${ROOT}/ui/audits/${encodeURIComponent(id)}`;
}

export function trailHref(params) {
  return `${ROOT}/ui${query(params)}`;
}

function cell(label, ...content) {
  // One wrapper, so a phone's two-column card keeps the content in one column.
  return h("td", { "data-label": label }, h("span", {}, ...content));
}

/** The records as a table; each row links to its record page. */
export function recordsTable(items, caption) {
  return h(
    "table",
    { class: "records" },
    h("caption", { class: "visually-hidden" }, caption),
    h(
      "thead",
      {},
      h("tr", {}, ["When", "Action", "Status", "Entity", "User", "Recorded by"].map((name) => h("th", { scope: "col" }, name))),
    ),
    h(
      "tbody",
      {},
      items.map((item) =>
        h(
          "tr",
          { "data-id": item.id },
          cell("When", h("a", { href: recordHref(item.id), "aria-label": `Record ${item.id}` }, timeElement(item.created_at))),
          cell("Action", item.action_type),
          cell("Status", h("span", { class: `status status-${item.status}` }, item.status)),
          cell("Entity", `${item.entity_type} `, h("code", { title: item.entity_id }, shortId(item.entity_id))),
          cell("User", item.user_id ? h("code", { title: item.user_id }, shortId(item.user_id)) : h("span", { class: "muted" }, "system")),
          cell("Recorded by", item.recorded_by || h("span", { class: "muted" }, "—")),
        ),
      ),
    ),
  );
}

function pageLinks(page, params, navigate) {
  let older = null;
  let newer = null;
  const base = { ...params };
  delete base.cursor;
  delete base.offset;
  if ("next_cursor" in page) {
    if (page.next_cursor) older = { ...base, cursor: page.next_cursor };
    if (page.prev_cursor) newer = { ...base, cursor: page.prev_cursor };
    else if (params.cursor) newer = base;
  } else {
    const offset = page.offset || 0;
    if (offset + page.items.length < page.total) older = { ...base, offset: offset + page.limit };
    if (offset > 0) newer = { ...base, offset: Math.max(0, offset - page.limit) };
    if (newer && newer.offset === 0) delete newer.offset;
  }
  const link = (target, text, rel) =>
    target
      ? h("a", { class: "button", href: trailHref(target), rel, onclick: (event) => navigate(event, trailHref(target)) }, text)
      : h("span", { class: "button", "aria-disabled": "true" }, text);
  return h("nav", { class: "pager", "aria-label": "Pages" }, link(newer, "← Newer", "prev"), link(older, "Older →", "next"));
}

async function download(format, filters, status) {
  status.textContent = `Preparing the ${format.toUpperCase()} export…`;
  try {
    const response = await request(`/audits/export${query({ ...filters, format, order: "newest" })}`);
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {}
      status.textContent = `Export failed: ${body?.message || `HTTP ${response.status}`}`;
      return;
    }
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "");
    const anchor = h("a", { href: url, download: `audits-${stamp}.${format}` });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    status.textContent = `Exported ${format.toUpperCase()} (${blob.size.toLocaleString()} bytes).`;
  } catch (error) {
    status.textContent = `Export failed: ${describe(error)}`;
  }
}

export async function renderTrail(view, { navigate, go }) {
  const params = Object.fromEntries(new URLSearchParams(location.search));
  const filters = filtersFrom(location.search);
  const limit = PAGE_SIZES.includes(Number(params.limit)) ? Number(params.limit) : 20;
  const kept = { ...filters, ...(limit !== 20 ? { limit } : {}) };
  const active = Object.keys(filters).length;

  const apply = (chosen) => go(trailHref({ ...chosen, ...(limit !== 20 ? { limit } : {}) }));
  const sizeSelect = h(
    "select",
    { id: "page-size", onchange: (event) => go(trailHref({ ...filters, limit: event.target.value })) },
    PAGE_SIZES.map((size) => h("option", { value: size, selected: size === limit }, size)),
  );
  const summary = h("p", { class: "summary", role: "status" }, "Loading records…");
  const results = h("div", { class: "results" });
  const exportStatus = h("p", { class: "muted", role: "status" });
  replace(
    view,
    h("h1", {}, "Audit trail"),
    h("p", { class: "lede" }, "Every recorded event, newest first. Open a record to see its history and check its proof."),
    h(
      "details",
      { class: "filter-box", open: active > 0 || window.innerWidth > 700 },
      h("summary", {}, active ? `Filters (${active} active)` : "Filters"),
      filterForm({ values: filters, onApply: apply }),
    ),
    h(
      "div",
      { class: "toolbar" },
      summary,
      h("div", { class: "field inline" }, h("label", { for: "page-size" }, "Per page"), sizeSelect),
      h(
        "div",
        { class: "export", role: "group", "aria-label": "Export these filters" },
        h("button", { type: "button", onclick: () => download("ndjson", filters, exportStatus) }, "Export NDJSON"),
        h("button", { type: "button", onclick: () => download("csv", filters, exportStatus) }, "Export CSV"),
      ),
    ),
    exportStatus,
    results,
  );

  const listed = { ...filters, limit };
  if (params.cursor) listed.cursor = params.cursor;
  else if (params.offset) listed.offset = params.offset;
  let page;
  try {
    page = await getJson(`/audits${query(listed)}`);
  } catch (error) {
    summary.textContent = "";
    replace(results, h("p", { class: "error", role: "alert" }, `Could not list records: ${describe(error)}`));
    return;
  }
  const about = page.total_is_estimate ? "about " : "";
  summary.textContent = page.items.length
    ? `${about}${page.total.toLocaleString()} record${page.total === 1 ? "" : "s"} match${page.total === 1 ? "es" : ""}; showing ${page.items.length}.`
    : "No records match.";
  replace(
    results,
    page.items.length ? recordsTable(page.items, "Audit records, newest first") : null,
    pageLinks(page, { ...kept, ...(params.cursor ? { cursor: params.cursor } : {}), ...(params.offset ? { offset: params.offset } : {}) }, navigate),
  );
}
