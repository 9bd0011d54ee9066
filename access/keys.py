"""API keys as strings: the scopes, the `lnk_<prefix>_<secret>` format, minting and hashing.

Nothing here touches the database or HTTP, so the CLI, the routes and the tests share it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from typing import Literal, get_args

Scope = Literal["audits:read", "audits:write", "audits:delete", "ai", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
ALL_SCOPES = "all"

KEY_TAG = "lnk"
PREFIX_LENGTH = 12
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SECRET_BYTES = 32
# 62**43 > 2**256, so 43 base62 characters hold every 32-byte value.
SECRET_LENGTH = 43
KEY_SHAPE = re.compile(
    rf"^{KEY_TAG}_([0-9a-f]{{{PREFIX_LENGTH}}})_([0-9A-Za-z]{{{SECRET_LENGTH}}})$"
)


@dataclass(frozen=True)
class MintedKey:
    key: str  # shown once, never stored
    prefix: str
    secret_hash: str


def _base62(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    for _ in range(SECRET_LENGTH):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def hash_secret(secret: str) -> str:
    """SHA-256 hex of the secret. A fast hash is enough: the secret has 256 random bits, so
    there is nothing to brute-force that a slow password hash would protect."""
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_key() -> MintedKey:
    # The prefix is public (it names the key in lists and logs); hex keeps it unambiguous.
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = _base62(secrets.token_bytes(SECRET_BYTES))
    return MintedKey(f"{KEY_TAG}_{prefix}_{secret}", prefix, hash_secret(secret))


def split_key(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    match = KEY_SHAPE.match(key)
    return (match[1], match[2]) if match else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time: how much of the hash matched never shows in the response time."""
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def expand_scopes(requested: list[str]) -> list[str]:
    """Known scopes in canonical order; `all` means every scope. Raises ValueError otherwise."""
    wanted = {scope.strip() for scope in requested if scope.strip()}
    unknown = sorted(wanted - {*SCOPES, ALL_SCOPES})
    if unknown:
        raise ValueError(
            f"unknown scope(s): {', '.join(unknown)}; choose from {', '.join(SCOPES)} or all"
        )
    if ALL_SCOPES in wanted:
        return list(SCOPES)
    if not wanted:
        raise ValueError(f"give at least one scope: {', '.join(SCOPES)} or all")
    return [scope for scope in SCOPES if scope in wanted]
