"""The `ai_call` ledger: one row per upstream attempt, success or failure. No prompt text."""

from piccolo.columns import UUID, DoublePrecision, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AiCall(Table, tablename="ai_call"):
    id = UUID(primary_key=True)
    created_at = Timestamptz(null=False, default=TimestamptzNow(), index=True)
    operation = Varchar(length=30, null=False, default=None)
    model = Varchar(length=200, null=False, default=None)
    status = Varchar(length=10, null=False, default=None)
    error_code = Varchar(length=50, null=True, default=None)
    attempt = Integer(null=False, default=1)
    prompt_tokens = Integer(null=True, default=None)
    completion_tokens = Integer(null=True, default=None)
    latency_ms = DoublePrecision(null=False, default=None)
    request_id = Varchar(length=128, null=True, default=None)
