// The list filters: what they are called, how they sit in a URL, and a form to edit them.

import { h } from "./dom.js";

const ACTIONS = ["create", "update", "delete", "view", "export", "import", "login", "logout", "other"];
const STATUSES = ["success", "failure", "pending"];

export const FILTERS = [
  { name: "action_type", label: "Action", options: ACTIONS },
  { name: "status", label: "Status", options: STATUSES },
  { name: "entity_type", label: "Entity type", placeholder: "invoice" },
  { name: "entity_id", label: "Entity id", placeholder: "UUID" },
  { name: "user_id", label: "User id", placeholder: "UUID" },
  { name: "recorded_by", label: "Recorded by (key)", placeholder: "name (prefix)" },
  { name: "created_after", label: "From (UTC, inclusive)", time: true },
  { name: "created_before", label: "Until (UTC, exclusive)", time: true },
  { name: "details", label: "Details contain (JSON object)", json: true, placeholder: '{"field": "amount"}' },
];
export const FILTER_NAMES = FILTERS.map((filter) => filter.name);

/** The filters a URL's query names, empty ones left out. */
export function filtersFrom(search) {
  const params = new URLSearchParams(search);
  const filters = {};
  for (const name of FILTER_NAMES) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  return filters;
}

/** What a datetime-local input shows for an RFC 3339 time, read as UTC. */
function inputTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString().slice(0, 19);
}

/** RFC 3339 with an explicit UTC offset, as the API demands, from an input read as UTC. */
function apiTime(value) {
  if (!value) return "";
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return `${withSeconds}Z`;
}

function field(filter, value, idPrefix) {
  const id = `${idPrefix}-${filter.name}`;
  let control;
  if (filter.options) {
    control = h(
      "select",
      { id, name: filter.name },
      h("option", { value: "" }, "any"),
      filter.options.map((option) => h("option", { value: option, selected: option === value }, option)),
    );
  } else if (filter.time) {
    control = h("input", { id, name: filter.name, type: "datetime-local", step: 1, value: value ? inputTime(value) : "" });
  } else if (filter.json) {
    control = h("textarea", { id, name: filter.name, rows: 2, spellcheck: "false", placeholder: filter.placeholder });
    control.value = value || "";
  } else {
    control = h("input", { id, name: filter.name, type: "text", value: value || "", placeholder: filter.placeholder, spellcheck: "false", autocomplete: "off" });
  }
  return h("div", { class: `field${filter.json ? " wide" : ""}` }, h("label", { for: id }, filter.label), control);
}

/**
 * A form over every filter. `onApply(filters)` gets the non-empty ones, times in RFC 3339
 * and `details` checked to be a JSON object (the API decides the rest and says what is wrong).
 */
export function filterForm({ values = {}, onApply, submitLabel = "Apply filters", idPrefix = "filter", label = "Filters" }) {
  const problem = h("p", { class: "error", id: `${idPrefix}-problem`, role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "filters", "aria-label": label, novalidate: true },
    h("div", { class: "fields" }, FILTERS.map((filter) => field(filter, values[filter.name], idPrefix))),
    problem,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, submitLabel),
      h("button", { type: "button", onclick: () => onApply({}) }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const filters = {};
    for (const filter of FILTERS) {
      let value = String(data.get(filter.name) || "").trim();
      if (filter.time) value = apiTime(value);
      if (filter.json && value) {
        let parsed;
        try {
          parsed = JSON.parse(value);
        } catch {
          parsed = undefined;
        }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
          problem.textContent = 'Details must be a JSON object, like {"field": "amount"}.';
          problem.hidden = false;
          form.elements[filter.name].setAttribute("aria-invalid", "true");
          form.elements[filter.name].focus();
          return;
        }
        value = JSON.stringify(parsed);
      }
      if (value) filters[filter.name] = value;
    }
    problem.hidden = true;
    onApply(filters);
  });
  return form;
}

export function describeFilters(filters) {
  const parts = Object.entries(filters).map(([name, value]) => `${name} = ${value}`);
  return parts.length ? parts.join(", ") : "none";
}
