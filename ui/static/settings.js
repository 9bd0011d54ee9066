// Keys: the API key this tab holds, and the verifier key proofs are checked against.

import { forgetKey, getJson, storedKey } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { canVerifyHere, forgetTrustedKey, pinKey, trustedKey } from "./verify.js";

function apiKeySection(rerender) {
  const held = Boolean(storedKey());
  return h(
    "section",
    { "aria-labelledby": "api-key-title" },
    h("h2", { id: "api-key-title" }, "API key"),
    h("p", {}, held ? "This tab holds an API key (in sessionStorage; it goes when the tab closes)." : "This tab holds no API key. If the service asks for one, you will be prompted."),
    held ? h("button", { type: "button", onclick: () => { forgetKey(); rerender(); } }, "Forget the API key") : null,
  );
}

function verifierSection(rerender) {
  const trusted = trustedKey();
  const forget = () => {
    forgetTrustedKey();
    rerender();
  };
  const input = h("textarea", { id: "pinned-key", rows: 2, spellcheck: "false", placeholder: "name+1a2b3c4d+AZ…" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    {},
    h("label", { for: "pinned-key" }, "Pin a verifier key (from your operator, out of band)"),
    input,
    problem,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Pin this key"),
      trusted ? h("button", { type: "button", onclick: forget }, "Forget the trusted key") : null,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!canVerifyHere()) {
      problem.textContent = "cannot verify here: needs HTTPS";
      problem.hidden = false;
      return;
    }
    try {
      await pinKey(input.value, "pinned");
      rerender();
    } catch (error) {
      problem.textContent = `That key is unusable: ${error.message}`;
      problem.hidden = false;
    }
  });
  const served = h("p", { class: "muted" });
  getJson("/ledger/public-key").then(
    (key) => {
      const differs = trusted && trusted.key !== key.verifier_key;
      served.textContent = differs
        ? `The server now names another key, ${key.verifier_key}: proofs will fail until you find out why (a rotated key, or another server).`
        : `The server names the key ${key.verifier_key}.`;
      served.className = differs ? "notice-inline" : "muted";
    },
    () => (served.textContent = "The server did not say which key signs its checkpoints."),
  );
  return h(
    "section",
    { "aria-labelledby": "verifier-title" },
    h("h2", { id: "verifier-title" }, "Verifier key"),
    h("p", {}, "Proofs are checked against a signed checkpoint; the key that must have signed it is kept in this browser (localStorage)."),
    trusted
      ? h("dl", { class: "fields-list" },
          h("div", {}, h("dt", {}, "Trusted key"), h("dd", {}, h("code", { id: "trusted-key" }, trusted.key))),
          h("div", {}, h("dt", {}, "How"), h("dd", {}, trusted.source === "pinned" ? `pinned by you, ${formatTime(trusted.since)}` : `fetched from the server on first use, ${formatTime(trusted.since)}`)))
      : h("p", {}, "No key yet: the first check will trust the key the server names (trust on first use). Pin one here to be stricter."),
    served,
    form,
  );
}

export function renderSettings(view) {
  const rerender = () => renderSettings(view);
  replace(view, h("h1", {}, "Keys"), apiKeySection(rerender), verifierSection(rerender));
}
