"""The `idempotency_key` table: the first answer to each Idempotency-Key, kept for a while."""

from piccolo.columns import SmallInt, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table


class IdempotencyKey(Table, tablename="idempotency_key"):
    # Whose key it is: the API key's prefix, or "anonymous" when the service runs without keys.
    # Two clients choosing the same key never see each other's answers.
    owner = Varchar(length=20, null=False, default=None)
    key = Varchar(length=255, null=False, default=None)
    # SHA-256 (hex) of the method, path and raw body bytes of the first request.
    fingerprint = Varchar(length=64, null=False, default=None)
    response_status = SmallInt(null=False, default=None)
    response_body = Text(null=False, default=None)
    response_location = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    # Indexed: each new key sweeps a few expired ones, oldest first.
    expires_at = Timestamptz(null=False, default=None, index=True)
    one_per_owner = Unique([owner, key])
