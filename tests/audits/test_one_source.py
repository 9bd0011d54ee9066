"""Column and filter names have one source each: the Piccolo table and `AuditFilters`."""

from audits import queries
from audits.schemas import AuditCreate, AuditFilters, AuditOut
from audits.tables import Audit
from tests.helpers import AUDITS, create_audit


async def test_a_record_shows_exactly_the_table_columns_that_audit_out_declares(client, entity_id):
    created = await create_audit(client, entity_id)
    fetched = (await client.get(f"{AUDITS}/{created['id']}")).json()
    listed = (await client.get(AUDITS, params={"entity_id": str(entity_id)})).json()["items"][0]

    derived = [column._meta.name for column in queries.RECORD_FIELDS]
    table = [column._meta.name for column in Audit._meta.columns if column is not Audit.deleted_at]
    assert list(created) == list(fetched) == list(listed) == list(AuditOut.model_fields)
    assert derived == table == list(AuditOut.model_fields)


def test_what_a_client_may_send_is_what_the_insert_binds():
    bound = [column._meta.name for column in queries.CREATE_FIELDS]
    assert bound == list(AuditCreate.model_fields)


def test_every_list_filter_compares_a_table_column():
    assert list(queries.FILTER_COMPARISONS) == list(AuditFilters.model_fields)
    assert set(queries.WINDOW) <= set(AuditFilters.model_fields)
