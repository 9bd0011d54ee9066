"""Ledger answers. Hashes, leaves and keys are standard base64, as in C2SP checkpoints."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# Tree sizes and indices are PostgreSQL bigints; past this they cannot name a leaf anyway.
MAX_INDEX = 2**62


class TreeSizeQuery(BaseModel):
    """Unknown query parameters are refused here too, as on every list."""

    model_config = ConfigDict(extra="forbid")

    tree_size: int | None = Field(
        default=None, ge=1, le=MAX_INDEX, description="An earlier tree size; default latest."
    )


class ConsistencyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: int = Field(ge=1, le=MAX_INDEX, description="The earlier tree size.")
    second: int = Field(ge=1, le=MAX_INDEX, description="The later tree size.")


class EntriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, le=MAX_INDEX, description="The first leaf index.")
    end: int = Field(ge=0, le=MAX_INDEX, description="One past the last leaf index wanted.")


class Checkpoint(BaseModel):
    origin: str = Field(description="The log's name: the checkpoint's first line.")
    tree_size: int
    root_hash: str = Field(description="base64 of the RFC 9162 root hash (SHA-256).")
    timestamp: datetime = Field(description="When the sealer signed it.")
    note: str = Field(description="The C2SP signed note: checkpoint body, blank line, signature.")


class PublicKey(BaseModel):
    key_name: str
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key.")
    verifier_key: str = Field(description="The signed-note verifier key: name+hash+key.")


class ProofEntry(BaseModel):
    seq: int = Field(description="The entry's `ledger_seq`: the receipt records carry.")
    change: str = Field(description="create, update, delete, or import.")
    leaf_index: int | None = Field(description="null while not yet in this tree (pending).")
    leaf: str = Field(description="base64 of the exact leaf bytes (UTF-8 JSON) that are hashed.")
    inclusion_proof: list[str] = Field(description="base64 hashes, RFC 9162 §2.1.3.")


class AuditProof(BaseModel):
    audit_id: UUID
    tree_size: int
    root_hash: str
    entries: list[ProofEntry]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="base64 hashes, RFC 9162 §2.1.4.")


class LeafOut(BaseModel):
    leaf_index: int
    seq: int
    leaf: str


class LeafPage(BaseModel):
    start: int
    end: int
    entries: list[LeafOut]
