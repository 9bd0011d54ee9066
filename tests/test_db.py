"""db.run: a Piccolo query behind the same guard as raw SQL, answering as Piccolo would."""

import uuid

import pytest

import db
from audits.tables import Audit
from piccolo_conf import DB
from tests.helpers import create_audit


async def test_run_answers_what_piccolos_own_run_answers(client, entity_id):
    created = await create_audit(client, entity_id, details={"big": 2**70})
    query = (
        Audit.select(Audit.id, Audit.details)
        .where(Audit.id == uuid.UUID(created["id"]))
        .output(load_json=True)
    )

    guarded = await db.run(query)

    assert (
        guarded
        == await query.run()
        == [{"id": uuid.UUID(created["id"]), "details": {"big": 2**70}}]
    )


async def test_run_leaves_no_borrowed_connection_behind_even_when_the_query_fails(client):
    with pytest.raises(ValueError, match="No values were specified"):
        await db.run(Audit.update({}).where(Audit.id == uuid.uuid4()))

    assert DB.current_transaction.get() is None
