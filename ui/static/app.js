// The viewer's router: the URL's path picks the view, its query holds the view's state, so
// every view can be shared as a link and survives a reload.

import { ROOT } from "./api.js";
import { h, replace } from "./dom.js";
import { renderAsk } from "./ask.js";
import { renderGlance } from "./glance.js";
import { renderRecord } from "./record.js";
import { renderSettings } from "./settings.js";
import { renderTrail } from "./trail.js";

const main = document.getElementById("main");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function go(url, { replaceEntry = false } = {}) {
  history[replaceEntry ? "replaceState" : "pushState"](null, "", url);
  render({ moved: true });
}

/** A click handler for in-app links: same tab, no modifier keys, then the router takes it. */
function navigate(event, url) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go(url);
}

function viewFor(path) {
  const rest = path.slice(`${ROOT}/ui`.length).replace(/^\/+|\/+$/g, "");
  if (rest === "") return { nav: "trail", title: "Trail", draw: (view) => renderTrail(view, { navigate, go }) };
  if (rest === "glance") return { nav: "glance", title: "At a glance", draw: (view) => renderGlance(view, { go }) };
  if (rest === "ask") return { nav: "ask", title: "Ask", draw: (view) => renderAsk(view, { go }) };
  if (rest === "settings") return { nav: "settings", title: "Keys", draw: (view) => renderSettings(view) };
  const [kind, id] = rest.split("/");
  if (kind === "audits" && UUID.test(id || "")) return { nav: "trail", title: `Record ${id.slice(0, 8)}`, draw: (view) => renderRecord(view, id.toLowerCase()) };
  return {
    nav: null,
    title: "Not found",
    draw: (view) => replace(view, h("h1", {}, "Nothing here"), h("p", {}, "This viewer has no such page. ", h("a", { href: `${ROOT}/ui` }, "Go to the trail"), ".")),
  };
}

async function render({ moved = false } = {}) {
  const chosen = viewFor(location.pathname);
  document.title = `${chosen.title} · Audit trail`;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === chosen.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // A fresh container per render: answers that arrive after the user moved on land in a
  // detached node instead of over the new view.
  const view = h("div", { class: "view" });
  replace(main, view);
  if (moved) main.focus({ preventScroll: false });
  await chosen.draw(view);
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${ROOT}/ui`) || url.pathname.startsWith(`${ROOT}/ui/assets`)) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  navigate(event, url.pathname + url.search);
});
window.addEventListener("popstate", () => render({ moved: true }));
render();
