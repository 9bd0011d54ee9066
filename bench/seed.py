"""Seed the audit table fast (COPY, not the API) with a realistic spread.

A few hundred entity types, many entities and users, a mix of statuses and actions, a
year of timestamps. Deterministic for a given starting count, so reruns compare.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from audits.tables import Audit

ENTITY_TYPES = [
    f"{kind}_{n:03d}" for kind in ("invoice", "order", "user", "doc") for n in range(75)
]
ACTIONS = ["create", "update", "delete", "view", "export", "import", "login", "logout", "other"]
ACTION_WEIGHTS = [20, 30, 5, 25, 4, 2, 7, 5, 2]
STATUSES = ["success", "failure", "pending"]
STATUS_WEIGHTS = [90, 7, 3]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "billing-ui/2.4", "curl/8.5", "sync-worker/1.9"]
YEAR_END = datetime(2026, 11, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
# The columns _records fills, in its order; named through the table so a rename cannot
# leave the seed behind.
COLUMNS = (
    Audit.id,
    Audit.action_type,
    Audit.entity_type,
    Audit.entity_id,
    Audit.user_id,
    Audit.details,
    Audit.status,
    Audit.ip_address,
    Audit.user_agent,
    Audit.created_at,
)
TABLE = Audit._meta.tablename
BATCH = 50_000


def _records(start: int, count: int, rng: random.Random):
    entities = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(max(1, (start + count) // 5))]
    users = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(5_000)]
    for n in range(start, start + count):
        entity_index = rng.randrange(len(entities))
        yield (
            uuid.UUID(int=rng.getrandbits(128)),
            rng.choices(ACTIONS, ACTION_WEIGHTS)[0],
            ENTITY_TYPES[entity_index % len(ENTITY_TYPES)],
            entities[entity_index],
            None if rng.random() < 0.1 else rng.choice(users),
            f'{{"seq": {n}, "source": "seed", "amount": {rng.randrange(10_000)}}}',
            rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            rng.choice(AGENTS),
            YEAR_END - YEAR * rng.random(),
        )


async def seed_to(database_url: str, total: int) -> int:
    """Add rows until the table holds `total`; returns how many were added."""
    conn = await asyncpg.connect(database_url)
    try:
        have = await conn.fetchval(f"SELECT count(*) FROM {TABLE}")
        missing = max(0, total - have)
        rng = random.Random(have)
        records = _records(have, missing, rng)
        added, names = 0, [column._meta.db_column_name for column in COLUMNS]
        while added < missing:
            batch = [record for _, record in zip(range(BATCH), records, strict=False)]
            await conn.copy_records_to_table(TABLE, records=batch, columns=names)
            added += len(batch)
        await conn.execute(f"VACUUM ANALYZE {TABLE}")
        return added
    finally:
        await conn.close()
