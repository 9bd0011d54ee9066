import asyncio
from collections import Counter

from tests.helpers import AUDITS, audit_body, create_audit


async def test_100_concurrent_creates_all_land_and_are_all_listed(client, entity_id, db):
    responses = await asyncio.gather(
        *(client.post(AUDITS, json=audit_body(entity_id, details={"n": n})) for n in range(100))
    )

    assert Counter(response.status_code for response in responses) == {201: 100}
    created = {response.json()["id"] for response in responses}
    listed = set()
    for offset in range(0, 100, 50):
        params = {"entity_id": str(entity_id), "limit": 50, "offset": offset}
        listed |= {item["id"] for item in (await client.get(AUDITS, params=params)).json()["items"]}
    assert listed == created
    stored = await db.fetch("SELECT details->>'n' AS n FROM audit WHERE entity_id = $1", entity_id)
    assert sorted(int(row["n"]) for row in stored) == list(range(100))


async def test_racing_puts_to_finalise_one_record_have_exactly_one_winner(client, entity_id, db):
    record = await create_audit(client, entity_id, status="pending")
    wanted = ["success" if n % 2 else "failure" for n in range(20)]

    responses = await asyncio.gather(
        *(client.put(f"{AUDITS}/{record['id']}", json={"status": s}) for s in wanted)
    )

    final = await db.fetchval("SELECT status FROM audit WHERE id = $1", record["id"])
    outcomes = Counter(
        (response.status_code, status == final)
        for response, status in zip(responses, wanted, strict=True)
    )
    # Everyone who asked for the winning status gets 200 (one applied it, the rest are
    # no-ops); everyone who asked for the other final status is refused.
    assert outcomes == {(200, True): 10, (409, False): 10}
    for response in responses:
        if response.status_code == 409:
            assert response.json()["details"]["current_status"] == final
