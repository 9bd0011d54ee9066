"""Ledger routes: checkpoints, the public key, proofs, and raw leaves for mirrors."""

from __future__ import annotations

from base64 import b64encode
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from access.auth import GuardedRoute, require
from errors import (
    AuditNotFound,
    CheckpointNotFound,
    LedgerNotConfigured,
    ProofNotFound,
    error_responses,
)
from ledger import queries
from ledger.merkle import EMPTY_ROOT
from ledger.note import parse_signer
from ledger.schemas import (
    AuditProof,
    Checkpoint,
    ConsistencyProof,
    ConsistencyQuery,
    EntriesQuery,
    LeafOut,
    LeafPage,
    ProofEntry,
    PublicKey,
    TreeSizeQuery,
)

router = APIRouter(prefix="/api/v1", tags=["ledger"], route_class=GuardedRoute)

MAX_LEAVES_PER_CALL = 1000
TreeSize = Annotated[TreeSizeQuery, Query()]
COMMON_ERRORS = error_responses(422, 500, 503)


def b64(data: bytes) -> str:
    return b64encode(data).decode()


def checkpoint_out(row: dict) -> Checkpoint:
    return Checkpoint(
        origin=row["note"].split("\n", 1)[0],
        tree_size=row["tree_size"],
        root_hash=b64(row["root_hash"]),
        timestamp=row["created_at"],
        note=row["note"],
    )


@router.get(
    "/ledger/checkpoint",
    summary="Get a signed checkpoint",
    description="The latest signed checkpoint (a C2SP tlog-checkpoint in a C2SP signed note, "
    "Ed25519), or the one for `tree_size`. 404 before anything was sealed.",
    responses={**COMMON_ERRORS, **error_responses(404)},
    dependencies=[require("audits:read")],
)
async def read_checkpoint(query: TreeSize) -> Checkpoint:
    row = await queries.get_checkpoint(query.tree_size)
    if row is None:
        raise CheckpointNotFound(query.tree_size)
    return checkpoint_out(row)


@router.get(
    "/ledger/public-key",
    summary="Get the checkpoint signing key",
    description="The Ed25519 public key that signs checkpoints, raw and as a signed-note "
    "verifier key. Pin it out of band: a key fetched from the server proves nothing alone.",
    responses=COMMON_ERRORS,
    dependencies=[require("audits:read")],
)
async def read_public_key(request: Request) -> PublicKey:
    signer = request.app.state.settings.ledger_signing_key
    if signer is None:
        raise LedgerNotConfigured()
    verifier = parse_signer(signer.get_secret_value()).verifier
    return PublicKey(
        key_name=verifier.name, public_key=b64(verifier.public_key), verifier_key=verifier.key
    )


@router.get(
    "/audits/{audit_id}/proof",
    summary="Prove a record's history",
    description="Every journal entry of the record (create, each applied change, delete) with "
    "its exact leaf bytes and an RFC 9162 inclusion proof in the tree of `tree_size` leaves "
    "(default: the latest checkpoint). Entries not in that tree yet have `leaf_index: null` "
    "and no proof. Deleted records keep their proof.",
    responses={**COMMON_ERRORS, **error_responses(404)},
    dependencies=[require("audits:read")],
)
async def prove_audit(audit_id: UUID, query: TreeSize) -> AuditProof:
    tree_size = query.tree_size
    entries = await queries.audit_entries(audit_id)
    if not entries:
        raise AuditNotFound(audit_id)
    checkpoint = await queries.get_checkpoint(tree_size)
    if checkpoint is None and tree_size is not None:
        raise CheckpointNotFound(tree_size)
    size = checkpoint["tree_size"] if checkpoint else 0
    sealed = [e["leaf_index"] for e in entries if _in_tree(e["leaf_index"], size)]
    proofs = await queries.inclusion_proofs(sealed, size) if sealed else {}
    return AuditProof(
        audit_id=audit_id,
        tree_size=size,
        root_hash=b64(checkpoint["root_hash"] if checkpoint else EMPTY_ROOT),
        entries=[
            ProofEntry(
                seq=e["seq"],
                change=e["change"],
                leaf_index=e["leaf_index"] if _in_tree(e["leaf_index"], size) else None,
                leaf=b64(e["leaf"]),
                inclusion_proof=[b64(h) for h in proofs.get(e["leaf_index"], [])],
            )
            for e in entries
        ],
    )


def _in_tree(leaf_index: int | None, size: int) -> bool:
    return leaf_index is not None and leaf_index < size


@router.get(
    "/ledger/consistency",
    summary="Prove the log only grew",
    description="An RFC 9162 consistency proof that the tree of `first` leaves is a prefix of "
    "the tree of `second` leaves. There is one only for first <= second <= the latest tree "
    "size; otherwise 404 `proof_not_found`.",
    responses={**COMMON_ERRORS, **error_responses(404)},
    dependencies=[require("audits:read")],
)
async def prove_consistency(query: Annotated[ConsistencyQuery, Query()]) -> ConsistencyProof:
    first, second = query.first, query.second
    latest = await queries.get_checkpoint(None)
    latest_size = latest["tree_size"] if latest else 0
    if not first <= second <= latest_size:
        raise ProofNotFound(first, second, latest_size)
    proof = await queries.consistency(first, second)
    return ConsistencyProof(first=first, second=second, proof=[b64(h) for h in proof])


@router.get(
    "/ledger/entries",
    summary="Read raw leaves",
    description=f"Sealed leaves with `start <= leaf_index < end`, for auditors who mirror the "
    f"log and recompute its tree. At most {MAX_LEAVES_PER_CALL} a call: like RFC 6962's "
    "get-entries, a longer range is answered from its start, and the answer's `end` says "
    "where it stopped (ask again from there). An empty range answers no entries.",
    responses=COMMON_ERRORS,
    dependencies=[require("audits:read")],
)
async def read_entries(query: Annotated[EntriesQuery, Query()]) -> LeafPage:
    start, end = query.start, max(query.start, min(query.end, query.start + MAX_LEAVES_PER_CALL))
    rows = await queries.list_entries(start, end)
    return LeafPage(
        start=start,
        end=end,
        entries=[
            LeafOut(leaf_index=r["leaf_index"], seq=r["seq"], leaf=b64(r["leaf"])) for r in rows
        ],
    )
