// Ask: a plain-English question becomes list filters (chosen by the model, checked by the
// API), shown for editing, with the records they match.

import { ApiError, describe, postJson } from "./api.js";
import { h, replace } from "./dom.js";
import { FILTER_NAMES, filterForm } from "./filters.js";
import { recordsTable, trailHref } from "./trail.js";

function chosenFilters(filters) {
  const chosen = {};
  for (const name of FILTER_NAMES) {
    const value = filters?.[name];
    if (value === null || value === undefined || value === "") continue;
    chosen[name] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return chosen;
}

function answer(page, go) {
  const filters = chosenFilters(page.filters);
  return h(
    "div",
    { class: "answer" },
    h("h2", {}, "The filters it chose"),
    h("p", { class: "muted" }, "Edit them and open the trail with them, or read the matches below."),
    filterForm({ values: filters, idPrefix: "ask", label: "Chosen filters", submitLabel: "Show in the trail", onApply: (edited) => go(trailHref(edited)) }),
    h("h2", {}, "Matches"),
    h("p", { role: "status", class: "summary" }, page.total ? `${page.total_is_estimate ? "about " : ""}${page.total} record${page.total === 1 ? "" : "s"} match; showing ${page.items.length}.` : "No records match."),
    page.items.length ? recordsTable(page.items, "Records matching the question") : null,
  );
}

export function renderAsk(view, { go }) {
  const input = h("textarea", { id: "question", name: "question", rows: 2, required: true, maxlength: 2000, placeholder: "failed logins in the last 24 hours" });
  const button = h("button", { type: "submit", class: "primary" }, "Ask");
  const output = h("div", { class: "ask-output", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "ask", "aria-labelledby": "ask-title" },
    h("label", { for: "question" }, "Your question, in plain English"),
    input,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return input.focus();
    button.disabled = true;
    replace(output, h("p", { class: "muted" }, "Asking…"));
    try {
      replace(output, answer(await postJson("/ai/audits/search", { question }), go));
    } catch (error) {
      const notSetUp = error instanceof ApiError && error.code === "ai_not_configured";
      replace(
        output,
        notSetUp
          ? h("p", { class: "notice-inline", role: "alert" }, "Plain-English search is not set up on this server (it needs OPENAI_API_KEY). Use the filters on the Trail instead.")
          : h("p", { class: "error", role: "alert" }, `The question could not be answered: ${describe(error)}`),
      );
    } finally {
      button.disabled = false;
    }
  });
  replace(
    view,
    h("h1", { id: "ask-title" }, "Ask the trail"),
    h("p", { class: "lede" }, "A model turns your question into the trail's filters (never SQL); the API checks them and runs the normal list query."),
    form,
    output,
  );
}
