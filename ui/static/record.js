// One record: every field, its journal history, and a proof checked in this browser.

import { ApiError, ROOT, describe, getJson } from "./api.js";
import { formatTime, h, replace, timeElement } from "./dom.js";
import { decodeLeaf, verifyRecord } from "./verify.js";

const FIELD_ORDER = [
  "id", "action_type", "status", "entity_type", "entity_id", "user_id", "created_at", "updated_at",
  "recorded_by", "ip_address", "user_agent", "ledger_seq", "deleted_at", "details",
];
const BADGE_TEXT = { verified: "verified", pending: "pending", failed: "failed", unavailable: "cannot verify here" };

function valueOf(name, value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (name === "details") return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
  if (name.endsWith("_at")) return timeElement(value);
  if (typeof value === "object") return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
  return String(value);
}

function fieldList(record) {
  const names = [...FIELD_ORDER.filter((name) => name in record), ...Object.keys(record).filter((name) => !FIELD_ORDER.includes(name))];
  return h("dl", { class: "fields-list" }, names.map((name) => h("div", {}, h("dt", {}, name), h("dd", { "data-field": name }, valueOf(name, record[name])))));
}

// What every change moves anyway; the rest is what the change was about.
const BOOKKEEPING = new Set(["ledger_seq", "updated_at"]);

function changedFields(before, after) {
  if (!before || !after) return [];
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((name) => !BOOKKEEPING.has(name) && JSON.stringify(before[name]) !== JSON.stringify(after[name])).sort();
}

function cell(label, ...content) {
  return h("td", { "data-label": label }, h("div", {}, ...content));
}

function historyTable(proof) {
  let previous = null;
  return h(
    "table",
    { class: "history" },
    h("caption", { class: "visually-hidden" }, "Journal history, oldest first"),
    h("thead", {}, h("tr", {}, ["#", "Change", "When", "By", "Sealed", "State"].map((name) => h("th", { scope: "col" }, name)))),
    h(
      "tbody",
      {},
      proof.entries.map((entry) => {
        let state = {};
        try {
          state = decodeLeaf(entry);
        } catch {}
        const changed = changedFields(previous, state.record);
        previous = state.record;
        return h(
          "tr",
          { class: "entry" },
          cell("#", String(entry.seq)),
          cell("Change", entry.change, changed.length ? h("span", { class: "muted" }, `: ${changed.join(", ")}`) : null),
          cell("When", timeElement(state.at)),
          cell("By", state.by || h("span", { class: "muted" }, "no key"), state.db_user ? h("span", { class: "muted" }, ` (db: ${state.db_user})`) : null),
          cell("Sealed", entry.leaf_index === null ? h("span", { class: "muted" }, "pending") : `leaf ${entry.leaf_index}`),
          cell("State", h("details", {}, h("summary", {}, "record as journaled"), h("pre", { class: "json" }, JSON.stringify(state.record ?? null, null, 2)))),
        );
      }),
    ),
  );
}

async function check(badge, explanation, auditId, current) {
  badge.className = "badge checking";
  badge.textContent = "checking…";
  explanation.textContent = "";
  let proof;
  try {
    proof = await getJson(`/audits/${encodeURIComponent(auditId)}/proof`);
  } catch (error) {
    badge.className = "badge failed";
    badge.textContent = "failed";
    explanation.textContent = `failed: could not fetch the proof: ${describe(error)}`;
    return null;
  }
  const result = await verifyRecord(auditId, proof, current);
  badge.className = `badge ${result.state}`;
  badge.textContent = BADGE_TEXT[result.state];
  explanation.textContent = result.state === "failed" ? `failed: ${result.reason}` : result.reason;
  if (result.key) {
    const how = result.key.source === "pinned" ? "pinned by you" : "trusted on first use";
    explanation.append(h("br"), `Signed by ${result.key.name} (key ${how}; change it under Keys).`);
  }
  return proof;
}

export async function renderRecord(view, auditId) {
  replace(view, h("h1", {}, "Audit record"), h("p", { class: "muted" }, "Loading…"));
  let record = null;
  let gone = false;
  try {
    record = await getJson(`/audits/${encodeURIComponent(auditId)}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      replace(view, h("h1", {}, "Audit record"), h("p", { class: "error", role: "alert" }, describe(error)));
      return;
    }
    gone = true;
  }
  const badge = h("span", { class: "badge checking", id: "verify-badge" }, "checking…");
  const explanation = h("p", { class: "verify-reason", id: "verify-reason" });
  const history = h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"), h("p", { class: "muted" }, "Loading…"));
  const fields = h("section", { "aria-labelledby": "fields-title" }, h("h2", { id: "fields-title" }, "Fields"), record ? fieldList(record) : null);
  const again = h("button", { type: "button", onclick: () => run() }, "Verify again");
  replace(
    view,
    h("p", { class: "crumbs" }, h("a", { href: `${ROOT}/ui` }, "← Trail")),
    h("h1", {}, "Audit record ", h("code", { class: "id" }, auditId)),
    h(
      "section",
      { class: "verify", "aria-labelledby": "verify-title" },
      h("h2", { id: "verify-title" }, "Proof ", h("span", { role: "status" }, badge)),
      explanation,
      h("p", { class: "muted small" }, "Checked in this browser: the record's journal entries against the Ed25519-signed checkpoint (RFC 9162 inclusion proofs), and the record above against its last entry."),
      again,
    ),
    fields,
    history,
  );

  const run = async () => {
    again.disabled = true;
    const proof = await check(badge, explanation, auditId, record);
    again.disabled = false;
    if (!proof) {
      replace(history, h("h2", { id: "history-title" }, "History"), h("p", { class: gone ? "error" : "muted" }, gone ? "No record has this id." : "The history could not be read."));
      if (gone) {
        badge.className = "badge failed";
        badge.textContent = "not found";
      }
      return;
    }
    replace(history, h("h2", { id: "history-title" }, "History"), historyTable(proof));
    if (gone && !fields.querySelector("dl")) {
      const last = decodeLeaf(proof.entries[proof.entries.length - 1]);
      fields.append(h("p", { class: "notice-inline" }, `Deleted ${formatTime(last.record?.deleted_at)}: the API no longer serves this record. Its last journaled state:`), fieldList(last.record || {}));
    }
  };
  await run();
}
