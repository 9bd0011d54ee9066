// At a glance: events over time from the stats route, drawn here as an SVG bar chart.

import { ROOT, describe, getJson, query } from "./api.js";
import { h, replace, svg } from "./dom.js";
import { describeFilters, filterForm, filtersFrom } from "./filters.js";

const GROUPINGS = { status: "Status", action_type: "Action", entity_type: "Entity type", recorded_by: "Recorded by" };
const INTERVALS = { hour: "Hour", day: "Day", week: "Week" };
// Statuses keep their meaning in colour; other groups take the palette in order.
const STATUS_SERIES = { success: "ok", failure: "bad", pending: "wait" };
const HEIGHT = 300;
const MARGIN = { top: 24, right: 12, bottom: 40, left: 44 };

function bucketLabel(start, interval) {
  const iso = new Date(start).toISOString();
  if (interval === "hour") return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(5, 10);
}

function niceCeiling(value) {
  if (value <= 5) return Math.max(1, value);
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((step) => step * magnitude).find((candidate) => candidate >= value);
}

/**
 * One <g class="bar"> per bucket, a stacked <rect> per group in it, a legend and a table.
 * Drawn at the width it will be shown at, so its text stays readable on a phone.
 */
export function chart(answer, WIDTH = 800) {
  // A record with no value in the grouped column (no recording key, say) is its own group.
  const stats = { ...answer, buckets: answer.buckets.map((bucket) => ({ ...bucket, group: bucket.group ?? "(none)" })) };
  const starts = [...new Set(stats.buckets.map((bucket) => bucket.start))].sort((a, b) => new Date(a) - new Date(b));
  const totals = new Map();
  for (const bucket of stats.buckets) totals.set(bucket.group, (totals.get(bucket.group) || 0) + bucket.count);
  const groups = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a) || String(a).localeCompare(String(b)));
  const series = (group) => (stats.group_by === "status" && STATUS_SERIES[group]) || `s${groups.indexOf(group) % 8}`;
  const counts = new Map(starts.map((start) => [start, new Map()]));
  for (const bucket of stats.buckets) counts.get(bucket.start).set(bucket.group, bucket.count);
  const barTotals = starts.map((start) => [...counts.get(start).values()].reduce((a, b) => a + b, 0));
  const top = niceCeiling(Math.max(1, ...barTotals));

  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(1, starts.length);
  const barWidth = Math.min(56, slot * 0.7);
  const y = (count) => MARGIN.top + plotHeight - (count / top) * plotHeight;
  const labelEvery = Math.ceil(starts.length / Math.max(2, Math.floor(plotWidth / 64)));

  const grid = [0, top / 2, top].map((value) =>
    svg("g", { class: "tick" }, svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }), svg("text", { x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end" }, Number.isInteger(value) ? value : value.toFixed(1))),
  );
  const bars = starts.map((start, i) => {
    const x = MARGIN.left + slot * i + (slot - barWidth) / 2;
    let base = 0;
    const segments = groups
      .filter((group) => counts.get(start).has(group))
      .map((group) => {
        const count = counts.get(start).get(group);
        const rect = svg("rect", { class: `segment ${series(group)}`, x, width: barWidth, y: y(base + count), height: Math.max(0, y(base) - y(base + count)), "data-group": group, "data-count": count }, svg("title", {}, `${group}: ${count}`));
        base += count;
        return rect;
      });
    const label = bucketLabel(start, stats.interval);
    return svg(
      "g",
      { class: "bar", "data-start": start, "data-total": barTotals[i] },
      svg("title", {}, `${label}: ${barTotals[i]} event${barTotals[i] === 1 ? "" : "s"}`),
      segments,
      slot >= 22 ? svg("text", { class: "count", x: x + barWidth / 2, y: y(barTotals[i]) - 5, "text-anchor": "middle" }, barTotals[i]) : null,
      i % labelEvery === 0 ? svg("text", { class: "axis-label", x: x + barWidth / 2, y: HEIGHT - MARGIN.bottom + 18, "text-anchor": "middle" }, label) : null,
    );
  });
  const title = `Events per ${stats.interval}, by ${(GROUPINGS[stats.group_by] || stats.group_by).toLowerCase()}`;
  const figure = svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": "chart-title chart-desc", preserveAspectRatio: "xMidYMid meet" },
    svg("title", { id: "chart-title" }, title),
    svg("desc", { id: "chart-desc" }, `${starts.length} bars, ${stats.total} events in all; the table below lists the numbers.`),
    grid,
    svg("line", { class: "axis", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0) }),
    bars,
  );
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    groups.map((group) => h("li", {}, h("span", { class: `swatch ${series(group)}`, "aria-hidden": "true" }), `${group} (${totals.get(group)})`)),
  );
  const table = h(
    "details",
    { class: "numbers" },
    h("summary", {}, "The numbers"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Bucket start (UTC)"), groups.map((group) => h("th", { scope: "col" }, group)), h("th", { scope: "col" }, "Total"))),
      h("tbody", {}, starts.map((start, i) => h("tr", {}, h("th", { scope: "row" }, new Date(start).toISOString().slice(0, 16).replace("T", " ")), groups.map((group) => h("td", {}, counts.get(start).get(group) || 0)), h("td", {}, barTotals[i])))),
    ),
  );
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, title), legend, figure, table);
}

export async function renderGlance(view, { go }) {
  const params = new URLSearchParams(location.search);
  const groupBy = GROUPINGS[params.get("group_by")] ? params.get("group_by") : "status";
  const interval = INTERVALS[params.get("interval")] ? params.get("interval") : "day";
  const filters = filtersFrom(location.search);
  const href = (changes) => `${ROOT}/ui/glance${query({ group_by: groupBy, interval, ...filters, ...changes })}`;
  const select = (id, label, options, chosen, name) =>
    h("div", { class: "field inline" }, h("label", { for: id }, label), h("select", { id, onchange: (event) => go(href({ [name]: event.target.value })) }, Object.entries(options).map(([value, text]) => h("option", { value, selected: value === chosen }, text))));
  const area = h("div", { class: "chart-area" }, h("p", { class: "muted" }, "Loading…"));
  const active = Object.keys(filters).length;
  replace(
    view,
    h("h1", {}, "At a glance"),
    h("p", { class: "lede" }, "How many events happened when, stacked by status, action, entity type or recording key."),
    h("div", { class: "toolbar" }, select("group-by", "Group by", GROUPINGS, groupBy, "group_by"), select("interval", "Per", INTERVALS, interval, "interval")),
    h(
      "details",
      { class: "filter-box", open: active > 0 },
      h("summary", {}, active ? `Filters (${active} active): ${describeFilters(filters)}` : "Filters"),
      filterForm({ values: filters, idPrefix: "glance", onApply: (chosen) => go(`${ROOT}/ui/glance${query({ group_by: groupBy, interval, ...chosen })}`) }),
    ),
    area,
  );
  try {
    const stats = await getJson(`/audits/stats${query({ ...filters, group_by: groupBy, interval })}`);
    const width = Math.max(320, Math.min(1100, area.clientWidth || 800));
    replace(area, stats.buckets.length ? chart(stats, width) : h("p", {}, "No events match these filters."));
  } catch (error) {
    replace(area, h("p", { class: "error", role: "alert" }, `Could not read the stats: ${describe(error)}`));
  }
}
