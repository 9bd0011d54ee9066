"""An auditor's check of a running service, from outside it: standard library + cryptography.

    python -m ledger.verify --base-url URL --verifier-key KEY \\
        [--trusted-checkpoint FILE] [--audit-id ID ...] [--api-key KEY]

1. The latest checkpoint's signature verifies with the pinned verifier key.
2. With a checkpoint saved by an earlier run, the log only grew since (RFC 9162
   consistency); the new checkpoint is then saved in its place.
3. Each named record's journal entries are in the signed tree (inclusion proofs), and the
   record the API serves now equals the state in its last entry.
Exit 0 when all holds, 1 naming what broke, 2 when the service could not be asked.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ledger.client_checks import (
    VerificationFailed,
    verify_checkpoint,
    verify_checkpoint_consistency,
    verify_leaf_inclusion,
)
from ledger.note import Checkpoint


class ServiceError(Exception):
    """The service could not be asked (network, auth, an unexpected answer)."""


class Client:
    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout_s = timeout_s

    def get(self, path: str, **query) -> tuple[int, dict]:
        url = f"{self.base_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return 404, {}
            raise ServiceError(f"GET {path} answered {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise ServiceError(f"GET {path} failed: {error}") from None


def check_log(client: Client, verifier_key: str, trusted_file: Path | None) -> Checkpoint:
    status, answer = client.get("/api/v1/ledger/checkpoint")
    if status == 404:
        raise VerificationFailed("the service has no signed checkpoint yet")
    latest_note = answer["note"]
    latest = verify_checkpoint(latest_note, verifier_key)
    print(f"ok   checkpoint {latest.origin} size {latest.size} is signed by the pinned key")
    if trusted_file is not None and trusted_file.exists():
        trusted = verify_checkpoint(trusted_file.read_text(), verifier_key)
        proof: list[str] = []
        if 0 < trusted.size < latest.size:
            _, answer = client.get(
                "/api/v1/ledger/consistency", first=trusted.size, second=latest.size
            )
            proof = answer["proof"]
        verify_checkpoint_consistency(trusted, latest, proof)
        print(f"ok   the log grew from {trusted.size} to {latest.size} without rewriting")
    if trusted_file is not None:
        trusted_file.write_text(latest_note)
    return latest


def check_record(client: Client, checkpoint: Checkpoint, audit_id: str) -> None:
    status, proof = client.get(f"/api/v1/audits/{audit_id}/proof", tree_size=checkpoint.size)
    if status == 404:
        raise VerificationFailed(f"audit {audit_id}: the service has no journal for it")
    last_leaf = None
    for entry in proof["entries"]:
        if entry["leaf_index"] is None:
            print(f"wait audit {audit_id}: entry {entry['seq']} is not sealed yet (pending)")
            last_leaf = base64.b64decode(entry["leaf"])
            continue
        try:
            last_leaf = verify_leaf_inclusion(
                entry["leaf"], entry["leaf_index"], entry["inclusion_proof"], checkpoint
            )
        except VerificationFailed as failure:
            raise VerificationFailed(f"audit {audit_id}: {failure}") from None
        if json.loads(last_leaf)["audit_id"] != audit_id:
            raise VerificationFailed(f"audit {audit_id}: a proven leaf is another record's")
    state = json.loads(last_leaf)
    status, current = client.get(f"/api/v1/audits/{audit_id}")
    recorded = state["record"]
    if recorded.get("deleted_at") is not None:
        if status != 404:
            raise VerificationFailed(f"audit {audit_id}: deleted in the ledger, served by the API")
    elif status == 404:
        raise VerificationFailed(f"audit {audit_id}: in the ledger, but the API says it is gone")
    else:
        changed = sorted(k for k, v in current.items() if k in recorded and recorded[k] != v)
        if changed:
            raise VerificationFailed(
                f"audit {audit_id}: the API serves {', '.join(changed)} different from its "
                f"last journal entry (seq {state['seq']})"
            )
    print(f"ok   audit {audit_id}: {len(proof['entries'])} entries proven, record matches")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--verifier-key", required=True, help="the pinned signed-note verifier key")
    parser.add_argument("--trusted-checkpoint", type=Path, help="file with the last checkpoint")
    parser.add_argument("--audit-id", action="append", default=[], help="a record to check")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LOOPED_NEEDLE_API_KEY"),
        help="Bearer key with audits:read (default: $LOOPED_NEEDLE_API_KEY)",
    )
    args = parser.parse_args(argv)
    client = Client(args.base_url, args.api_key)
    try:
        checkpoint = check_log(client, args.verifier_key, args.trusted_checkpoint)
        for audit_id in args.audit_id:
            check_record(client, checkpoint, audit_id)
    except VerificationFailed as failure:
        print(f"FAIL {failure}")
        return 1
    except ServiceError as error:
        print(f"cannot check: {error}", file=sys.stderr)
        return 2
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
