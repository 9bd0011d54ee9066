"""The `audit` table. Required columns say `null=False, default=None` so a missing value fails."""

from piccolo.columns import JSONB, UUID, BigInt, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Audit(Table, tablename="audit"):
    id = UUID(primary_key=True)
    action_type = Varchar(length=20, null=False, default=None)
    entity_type = Varchar(length=100, null=False, default=None)
    entity_id = UUID(null=False, default=None)
    user_id = UUID(null=True, default=None)
    details = JSONB(null=True, default=None)
    status = Varchar(length=10, null=False, default="success")
    ip_address = Varchar(length=45, null=True, default=None)
    user_agent = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    updated_at = Timestamptz(null=True, default=None)
    # Soft delete: the API never removes a row, it stamps this column.
    deleted_at = Timestamptz(null=True, default=None)
    # Set by the server from the API key that wrote the record ("name (prefix)"), never by
    # a client; null when the service runs without keys.
    recorded_by = Varchar(length=120, null=True, default=None)
    # The record's latest journal entry (ledger/): a receipt a client can check later.
    ledger_seq = BigInt(null=True, default=None)
