"""The `api_key` table: one row per key ever minted. Only the secret's SHA-256 is stored."""

from piccolo.columns import UUID, Array, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class ApiKey(Table, tablename="api_key"):
    id = UUID(primary_key=True)
    name = Varchar(length=100, null=False, default=None)
    prefix = Varchar(length=12, null=False, default=None, unique=True)
    secret_hash = Varchar(length=64, null=False, default=None, secret=True)
    scopes = Array(Varchar(length=20), null=False, default=list)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
