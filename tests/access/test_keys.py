"""The key format, its randomness, the stored hash (checked with coreutils' sha256sum, an
independent implementation) and the constant-time comparison."""

from __future__ import annotations

import hmac
import subprocess

import pytest

from access import keys, queries
from access.keys import SCOPES, expand_scopes, mint_key, secret_matches, split_key
from access.tables import ApiKey
from tests.access.conftest import KEY_SHAPE, bearer


def sha256sum(text: str) -> str:
    result = subprocess.run(["sha256sum"], input=text.encode(), capture_output=True, check=True)
    return result.stdout.split()[0].decode()


def test_a_key_is_lnk_prefix_secret_with_256_bits_of_secret():
    minted = [mint_key() for _ in range(2000)]
    for key in minted:
        assert KEY_SHAPE.match(key.key), key.key
        prefix, secret = split_key(key.key)
        assert key.prefix == prefix
        # 43 base62 digits encode one 32-byte number: never above 2**256 - 1.
        assert sum(keys.BASE62.index(c) * 62**i for i, c in enumerate(reversed(secret))) < 2**256
    assert len({key.key[-43:] for key in minted}) == len(minted)
    assert len({key.prefix for key in minted}) == len(minted)
    # Every base62 digit shows up in the first place (a fixed leading digit would mean
    # fewer random bits than the length suggests).
    assert len({key.key[-43] for key in minted}) >= 10


def test_the_stored_hash_is_sha256_of_the_secret():
    minted = mint_key()
    _, secret = split_key(minted.key)
    assert minted.secret_hash == sha256sum(secret)
    assert secret not in minted.secret_hash


def test_the_secret_is_compared_with_hmac_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(left, right):
        calls.append((left, right))
        return real(left, right)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    minted = mint_key()
    _, secret = split_key(minted.key)
    # Another last character, whatever the minted one is (one secret in 62 ends in "x").
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")
    assert secret_matches(secret, minted.secret_hash)
    assert not secret_matches(wrong, minted.secret_hash)
    assert calls == [
        (sha256sum(secret).encode(), minted.secret_hash.encode()),
        (sha256sum(wrong).encode(), minted.secret_hash.encode()),
    ]


async def test_an_unknown_prefix_costs_a_comparison_too(auth_client, monkeypatch):
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(keys.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    response = await auth_client.get("/api/v1/audits", headers=bearer(mint_key().key))
    assert response.status_code == 401
    assert compared == [1]


def test_the_database_is_asked_by_prefix_only_never_by_secret():
    # The database never sees the secret or compares it: lookup is by the public prefix,
    # and the hash comparison happens in constant time in Python.
    query = ApiKey.select(*queries.PUBLIC_COLUMNS, ApiKey.secret_hash).where(
        ApiKey.prefix == "0123456789ab"
    )
    sql, params = queries._compiled(query)
    where = sql.split("WHERE", 1)[1]
    assert where.strip() == '"api_key"."prefix" = $1'
    assert params == ["0123456789ab"]


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        (["all"], list(SCOPES)),
        (["admin", "audits:read", "admin"], ["audits:read", "admin"]),
        ([" ai "], ["ai"]),
    ],
)
def test_scopes_expand_and_deduplicate(requested, granted):
    assert expand_scopes(requested) == granted


@pytest.mark.parametrize("requested", [["audits:admin"], [], [""], ["all", "nope"]])
def test_unknown_or_no_scopes_are_refused(requested):
    with pytest.raises(ValueError):
        expand_scopes(requested)
