// Checking a record's proof in the browser, trusting the server for nothing but bytes:
// RFC 9162 inclusion proofs (SHA-256) and a C2SP signed-note checkpoint (Ed25519), both
// through WebCrypto. Ports of ledger/merkle.py check_inclusion and ledger/note.py.

import { getJson, query } from "./api.js";

const VERIFIER_STORAGE = "looped-needle.verifier-key";
const SIGNATURE_PREFIX = "— ";
const ED25519 = 0x01;
const HASH_SIZE = 32;
const encoder = new TextEncoder();

export class Failed extends Error {}

export function canVerifyHere() {
  return Boolean(window.isSecureContext && globalThis.crypto && crypto.subtle);
}

/** Standard, padded, canonical base64 (RFC 4648 §4), as ledger/note.py demands. */
export function strictBase64(text, what) {
  let binary;
  try {
    binary = atob(text);
  } catch {
    throw new Failed(`the ${what} is not base64`);
  }
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  if (btoa(binary) !== text) throw new Failed(`the ${what} is not canonical base64`);
  return bytes;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

function equalBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** RFC 9162 §2.1.3.2, step by step, as merkle.check_inclusion; throws naming the failed check. */
export async function checkInclusion(leafHashValue, index, size, proof, root) {
  for (const [what, hash] of [["leaf hash", leafHashValue], ["root hash", root], ...proof.map((p, i) => [`inclusion proof element ${i}`, p])]) {
    if (hash.length !== HASH_SIZE) throw new Failed(`the ${what} is not ${HASH_SIZE} bytes`);
  }
  if (!(index >= 0 && index < size)) throw new Failed(`leaf index ${index} is not in a tree of size ${size}`);
  // BigInt: tree sizes and indices may pass 2^31, where JavaScript's bit operators wrap.
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  let r = leafHashValue;
  for (const p of proof) {
    if (sn === 0n) throw new Failed("the inclusion proof is longer than the tree is deep");
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Failed("the inclusion proof is shorter than the tree is deep");
  if (!equalBytes(r, root)) throw new Failed(`leaf ${index} is not in the tree of size ${size} with that root`);
}

function validName(name) {
  return Boolean(name) && !name.includes("+") && !/\s/.test(name);
}

/** A signed-note verifier key, `name+keyid+base64(0x01 || 32-byte key)`, its key id checked. */
export async function parseVerifierKey(text) {
  const first = text.indexOf("+");
  const second = text.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new Failed("a verifier key is <name>+<key id>+<key>");
  const name = text.slice(0, first);
  const keyId = text.slice(first + 1, second);
  if (!validName(name) || !/^[0-9a-f]{8}$/.test(keyId)) throw new Failed("the verifier key's name or key id is malformed");
  const material = strictBase64(text.slice(second + 1), "verifier key material");
  if (material.length !== 33 || material[0] !== ED25519) throw new Failed("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)");
  const digest = await sha256(concat(encoder.encode(`${name}\n`), material));
  const expected = new DataView(digest.buffer).getUint32(0);
  if (expected !== parseInt(keyId, 16)) throw new Failed("the verifier key id does not match its name and public key");
  return { name, keyId: expected, publicKey: material.slice(1), text };
}

async function ed25519Verify(publicKey, signature, message) {
  let key;
  try {
    key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    throw new Failed("this browser cannot check Ed25519 signatures (WebCrypto lacks Ed25519)");
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/** The note's text once the trusted key's signature on it verifies (note.open_note). */
export async function openNote(note, verifier) {
  if ([...note].some((ch) => ch < " " && ch !== "\n")) throw new Failed("a note may hold no control character but newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Failed("a signed note has a blank line before its signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw new Failed("a signed note ends with a signature line and a newline");
  let verified = 0;
  for (const line of block.slice(0, -1).split("\n")) {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new Failed("a signature line is '— <key name> <base64 signature>'");
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? "" : rest.slice(0, space);
    let signature;
    try {
      signature = strictBase64(rest.slice(space + 1), "signature");
    } catch {
      signature = new Uint8Array();
    }
    if (!validName(name) || signature.length < 5) throw new Failed("a signature line is '— <key name> <base64 signature>'");
    const keyId = new DataView(signature.buffer).getUint32(0);
    if (name !== verifier.name || keyId !== verifier.keyId) continue; // another key's: ignored
    if (!(await ed25519Verify(verifier.publicKey, signature.slice(4), encoder.encode(text)))) {
      throw new Failed(`the signature by ${verifier.name} does not verify`);
    }
    verified += 1;
  }
  if (!verified) throw new Failed(`the checkpoint carries no signature by the trusted key ${verifier.name}`);
  return text;
}

/** origin, size and root of a C2SP checkpoint body. */
export function parseCheckpoint(body) {
  const lines = body.slice(0, -1).split("\n");
  if (!body.endsWith("\n") || lines.length < 3 || !lines.every(Boolean)) throw new Failed("the checkpoint is malformed");
  const [origin, size, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(size)) throw new Failed("the checkpoint's tree size is malformed");
  const root = strictBase64(rootText, "checkpoint root hash");
  if (root.length !== HASH_SIZE) throw new Failed("the checkpoint root hash is not 32 bytes");
  return { origin, size: Number(size), root };
}

/** The trusted verifier key: pinned by the user, or the server's, trusted on first use. */
export function trustedKey() {
  try {
    return JSON.parse(localStorage.getItem(VERIFIER_STORAGE));
  } catch {
    return null;
  }
}

export async function pinKey(text, source) {
  const verifier = await parseVerifierKey(text.trim());
  localStorage.setItem(VERIFIER_STORAGE, JSON.stringify({ key: verifier.text, source, since: new Date().toISOString() }));
  return verifier;
}

export function forgetTrustedKey() {
  localStorage.removeItem(VERIFIER_STORAGE);
}

async function verifier() {
  let trusted = trustedKey();
  if (!trusted) {
    const served = await getJson("/ledger/public-key");
    await pinKey(served.verifier_key, "first-use");
    trusted = trustedKey();
  }
  try {
    return { ...(await parseVerifierKey(trusted.key)), source: trusted.source };
  } catch (error) {
    throw new Failed(`the trusted verifier key is unusable: ${error.message}`);
  }
}

function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]));
  }
  return value;
}

const fraction = (time) => (/\.(\d+)/.exec(time)?.[1] || "").padEnd(9, "0");

/** Equal JSON values; times (`*_at`) equal as instants, whichever UTC offset renders them. */
function same(name, a, b) {
  if (name.endsWith("_at") && typeof a === "string" && typeof b === "string" && a !== b) {
    const [x, y] = [Date.parse(a), Date.parse(b)];
    return !Number.isNaN(x) && x === y && fraction(a) === fraction(b);
  }
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export function decodeLeaf(entry) {
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(strictBase64(entry.leaf, "leaf")));
}

/**
 * verified | pending | failed, with a reason, for one record: its proof and the checkpoint
 * of the proof's tree size, both checked here; then the record the API serves now (null when
 * it answers 404) must equal the state its last journal entry holds.
 */
export async function verifyRecord(auditId, proof, current) {
  if (!canVerifyHere()) return { state: "unavailable", reason: "cannot verify here: needs HTTPS" };
  try {
    const key = await verifier();
    const sealed = proof.entries.filter((entry) => entry.leaf_index !== null);
    const pending = proof.entries.length - sealed.length;
    let checkpoint = null;
    if (sealed.length) {
      const served = await getJson(`/ledger/checkpoint${query({ tree_size: proof.tree_size })}`);
      const body = await openNote(served.note, key);
      checkpoint = parseCheckpoint(body);
      if (checkpoint.origin !== key.name) throw new Failed(`checkpoint origin ${checkpoint.origin} is not ${key.name}`);
      if (checkpoint.size !== proof.tree_size) throw new Failed(`the checkpoint is of size ${checkpoint.size}, not the proof's ${proof.tree_size}`);
      for (const entry of sealed) {
        const leaf = strictBase64(entry.leaf, `leaf of entry ${entry.seq}`);
        const path = entry.inclusion_proof.map((hash, i) => strictBase64(hash, `proof hash ${i}`));
        try {
          await checkInclusion(await leafHash(leaf), entry.leaf_index, checkpoint.size, path, checkpoint.root);
        } catch (error) {
          throw new Failed(`entry ${entry.seq} is not in the signed tree of size ${checkpoint.size}: ${error.message}`);
        }
      }
    }
    const states = proof.entries.map(decodeLeaf);
    if (states.some((state) => state.audit_id !== auditId)) throw new Failed("a journal entry belongs to another record");
    const last = states[states.length - 1];
    const recorded = last.record || {};
    if (recorded.deleted_at) {
      if (current) throw new Failed("the journal says deleted, but the API still serves the record");
    } else if (!current) {
      throw new Failed("the record is in the journal, but the API says it is gone");
    } else {
      const changed = Object.keys(current).filter((name) => name in recorded && !same(name, recorded[name], current[name])).sort();
      if (changed.length) throw new Failed(`the API serves ${changed.join(", ")} different from the last journal entry (seq ${last.seq})`);
    }
    if (pending) {
      return { state: "pending", reason: `${pending} journal entr${pending === 1 ? "y is" : "ies are"} not sealed yet`, checkpoint, key };
    }
    return { state: "verified", reason: `${sealed.length} entr${sealed.length === 1 ? "y" : "ies"} proven in the tree of size ${checkpoint.size}; the record matches its last entry`, checkpoint, key };
  } catch (error) {
    if (error instanceof Failed) return { state: "failed", reason: error.message };
    return { state: "failed", reason: `could not check: ${error.message}` };
  }
}
