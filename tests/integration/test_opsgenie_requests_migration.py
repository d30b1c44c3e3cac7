"""m0005: a database from before Opsgenie request outcomes gets their table, on SQLite and
PostgreSQL, and migrating again changes nothing."""
from __future__ import annotations

from incidents import api_keys
from storage.database import database
from storage.fields import utcnow
from storage.migrations import SchemaMigration, migrate
from storage.models import ApiKey, OpsgenieRequest


async def test_a_database_from_before_opsgenie_requests_is_brought_up_to_date(storage):
    def downgrade():
        database.drop_tables([OpsgenieRequest])
        SchemaMigration.delete().where(SchemaMigration.version == "m0005_opsgenie_requests").execute()

    await database.run(downgrade)
    assert await migrate() == ["m0005_opsgenie_requests"]
    await api_keys.ApiKeys().create("opsgenie")
    key = await ApiKey.aget(ApiKey.name == "opsgenie")
    await OpsgenieRequest.acreate(
        request_id="ec7e1d8e-1c75-442e-a271-731070a7fa4d", api_key_id=key.id, action="Create", success=True,
        status="Created alert", alias="db-1", processed_at=utcnow(),
    )
    stored = await OpsgenieRequest.aget(OpsgenieRequest.request_id == "ec7e1d8e-1c75-442e-a271-731070a7fa4d")
    assert (stored.action, stored.success, stored.incident_id) == ("Create", True, None)
    assert await migrate() == []
