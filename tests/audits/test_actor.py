"""Who acts: an API key's label, given to the query layer, lands in the record's
`recorded_by` and in every journal entry the change writes, and nowhere else.

tests/access/test_recorded_by.py shows the same through keys and HTTP; here the statements
themselves are held to it, with and without an actor, on one pooled connection after another.
"""

from __future__ import annotations

import json
import uuid

import db as database
from audits import queries
from audits.tables import Audit
from tests.helpers import audit_body

OPS = "ops (ln_0a1b2c3d)"


async def journal_by(db, audit_id: uuid.UUID) -> list[tuple[str, str | None]]:
    rows = await db.fetch(
        "SELECT change, leaf FROM journal_entry WHERE audit_id = $1 ORDER BY seq", audit_id
    )
    return [(row["change"], json.loads(row["leaf"])["by"]) for row in rows]


def fields(entity_id: uuid.UUID, **overrides) -> dict:
    body = audit_body(entity_id, **overrides)
    return {**body, "entity_id": uuid.UUID(body["entity_id"]), "user_id": None}


async def test_a_record_created_by_an_actor_names_it_in_the_row_and_the_journal(
    client, db, entity_id
):
    audit_id = uuid.uuid4()

    created = json.loads(await queries.create_audit(audit_id, fields(entity_id), OPS))

    assert created["recorded_by"] == OPS
    assert await db.fetchval("SELECT recorded_by FROM audit WHERE id = $1", audit_id) == OPS
    assert await journal_by(db, audit_id) == [("create", OPS)]


async def test_changes_by_an_actor_are_journaled_as_theirs_and_others_as_nobodys(
    client, db, entity_id
):
    audit_id = uuid.uuid4()
    await queries.create_audit(audit_id, fields(entity_id, status="pending"))

    changed = await queries.update_audit(audit_id, "success", {"checked": True}, OPS)
    await queries.update_audit(audit_id, None, {"again": 1})
    await database.run(
        Audit.update({Audit.updated_at: database.DATABASE_NOW}).where(Audit.id == audit_id),
        actor=OPS,
    )
    await database.run(
        Audit.update({Audit.updated_at: database.DATABASE_NOW}).where(Audit.id == audit_id)
    )
    deleted = await queries.delete_audit(audit_id, OPS)

    assert isinstance(changed, queries.Updated)
    assert json.loads(changed.record)["details"]["checked"] is True
    assert deleted is True
    assert await journal_by(db, audit_id) == [
        ("create", None),
        ("update", OPS),
        ("update", None),
        ("update", OPS),
        ("update", None),
        ("delete", OPS),
    ]
    # recorded_by names who created the record; later actors are in the journal only.
    assert await db.fetchval("SELECT recorded_by FROM audit WHERE id = $1", audit_id) is None


async def test_a_second_delete_finds_nothing_and_journals_nothing(client, db, entity_id):
    audit_id = uuid.uuid4()
    await queries.create_audit(audit_id, fields(entity_id))

    assert await queries.delete_audit(audit_id, OPS) is True
    assert await queries.delete_audit(audit_id, OPS) is False
    assert await queries.delete_audit(uuid.uuid4()) is False
    assert await journal_by(db, audit_id) == [("create", None), ("delete", OPS)]
    assert await queries.get_audit(audit_id) is None


async def test_an_update_of_a_final_status_is_refused_naming_it_and_changes_nothing(
    client, db, entity_id
):
    audit_id = uuid.uuid4()
    await queries.create_audit(audit_id, fields(entity_id, status="failure"))

    refused = await queries.update_audit(audit_id, "success", {"x": 1}, OPS)
    missing = await queries.update_audit(uuid.uuid4(), "success", None, OPS)

    assert refused == queries.StatusRefused("failure")
    assert missing == queries.NotFound()
    assert await journal_by(db, audit_id) == [("create", None)]
