// Every call to the API goes through here: same origin, the tab's key if it has one, and a
// single prompt for a key when the service answers 401.

const KEY_STORAGE = "looped-needle.api-key";
export const ROOT = location.pathname.slice(0, location.pathname.indexOf("/ui"));
export const API = `${ROOT}/api/v1`;

export class ApiError extends Error {
  constructor(status, body) {
    const message = body && typeof body.message === "string" ? body.message : `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = body && body.error;
    this.details = body && body.details;
    this.problems = (body && body.validation_errors) || [];
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

let pendingPrompt = null;

/** One dialog for however many requests met a 401 at once; resolves to the key or null. */
function askForKey(refused) {
  if (pendingPrompt) return pendingPrompt;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  document.getElementById("key-refused").hidden = !refused;
  pendingPrompt = new Promise((resolve) => {
    const finish = (key) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      input.value = "";
      pendingPrompt = null;
      resolve(key);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      finish(key);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    const cancel = document.getElementById("key-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    input.focus();
  });
  return pendingPrompt;
}

async function send(path, options, key) {
  const headers = new Headers(options.headers || {});
  if (key) headers.set("Authorization", `Bearer ${key}`);
  return fetch(`${API}${path}`, { ...options, headers, credentials: "omit", cache: "no-store" });
}

/** The raw Response of a call; on a 401, ask for a key (once for all calls waiting) and retry. */
export async function request(path, options = {}) {
  let key = storedKey();
  let response = await send(path, options, key);
  while (response.status === 401) {
    const now = storedKey();
    if (now && now !== key) {
      key = now; // another call already got a new key while this one was in flight
    } else {
      if (key) forgetKey(); // the key this call sent was refused
      key = await askForKey(Boolean(key));
      if (!key) break;
    }
    response = await send(path, options, key);
  }
  return response;
}

async function bodyOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** The parsed JSON answer; throws ApiError carrying the API's {error, message, details}. */
export async function getJson(path, options = {}) {
  const response = await request(path, options);
  const body = await bodyOf(response);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function postJson(path, payload) {
  return getJson(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** A sentence for people, from an ApiError or anything else thrown. */
export function describe(error) {
  if (error instanceof ApiError) {
    const where = error.problems.map((item) => `${item.field}: ${item.message}`);
    return [error.message, ...where].join(" — ");
  }
  return `The service could not be reached (${error.message}).`;
}
