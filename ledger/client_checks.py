"""What an auditor's client checks, on what the API returned: standard library + cryptography.

Each check raises VerificationFailed with a sentence an operator can act on; none of them
trusts the server for anything but bytes to check.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import merkle, note
from ledger.note import Checkpoint


class VerificationFailed(Exception):
    """The log did not prove what it had to; the message says what broke."""


def decode_hash(text: str, what: str = "hash") -> bytes:
    try:
        raw = note.strict_b64decode(text)
    except (ValueError, AttributeError):
        raise VerificationFailed(f"the {what} is not base64") from None
    if len(raw) != merkle.HASH_SIZE:
        raise VerificationFailed(f"the {what} is not {merkle.HASH_SIZE} bytes")
    return raw


def decode_proof(proof_b64: Sequence[str]) -> list[bytes]:
    return [decode_hash(h, f"proof hash {i}") for i, h in enumerate(proof_b64)]


def verify_checkpoint(note_text: str, verifier_key: str) -> Checkpoint:
    """The checkpoint, once its signature by `verifier_key` verifies and its origin is the key's."""
    try:
        verifier = note.parse_verifier(verifier_key)
    except note.NoteError as exc:
        raise VerificationFailed(f"the verifier key is unusable: {exc}") from None
    try:
        return note.open_checkpoint(note_text, verifier)
    except note.NoteError as exc:
        raise VerificationFailed(f"checkpoint not signed by {verifier.name}: {exc}") from None


def verify_leaf_inclusion(
    leaf_b64: str, leaf_index: int, proof_b64: Sequence[str], checkpoint: Checkpoint
) -> bytes:
    """The leaf's exact bytes, once they are proven to sit at `leaf_index` under the checkpoint."""
    try:
        leaf = note.strict_b64decode(leaf_b64)
    except (ValueError, AttributeError):
        raise VerificationFailed(f"leaf {leaf_index} is not base64") from None
    try:
        merkle.check_inclusion(
            merkle.leaf_hash(leaf),
            leaf_index,
            checkpoint.size,
            decode_proof(proof_b64),
            checkpoint.root_hash,
        )
    except merkle.InvalidProof as exc:
        raise VerificationFailed(
            f"leaf {leaf_index} is not in the signed tree of size {checkpoint.size}: {exc}"
        ) from None
    return leaf


def verify_checkpoint_consistency(
    trusted: Checkpoint, latest: Checkpoint, proof_b64: Sequence[str]
) -> None:
    """The latest tree only appended to the trusted one: nothing earlier was changed or dropped."""
    if trusted.origin != latest.origin:
        raise VerificationFailed(f"the log is now {latest.origin!r}, not {trusted.origin!r}")
    if latest.size < trusted.size:
        raise VerificationFailed(
            f"the log shrank from {trusted.size} to {latest.size} entries: entries were removed"
        )
    try:
        merkle.check_consistency(
            trusted.size,
            latest.size,
            trusted.root_hash,
            latest.root_hash,
            decode_proof(proof_b64),
        )
    except merkle.InvalidProof as exc:
        raise VerificationFailed(
            f"the log of size {latest.size} does not extend the trusted one of size "
            f"{trusted.size}: earlier entries were rewritten ({exc})"
        ) from None
