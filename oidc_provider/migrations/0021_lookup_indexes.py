"""The request counts table written by every protocol request stops writing PostgreSQL's WAL.

The per-client budget (oidc_provider/rate_limits.py) is counted by one upsert per request, the
only write of a UserInfo or introspection request. As an UNLOGGED table on PostgreSQL it writes
no WAL and its commit waits for no flush; after a crash PostgreSQL empties it (every budget's
window starts afresh) and standbys do not hold it (a promoted standby starts with no counts).
The counts are windows of a minute or so, worth nothing after either. SQLite has no such thing.
"""

from django.db import migrations


def _alter(schema_editor, logged: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name("oidc_provider_clientrequestcount")
    schema_editor.execute(f"ALTER TABLE {table} SET {logged}")


def unlogged(apps, schema_editor):
    _alter(schema_editor, "UNLOGGED")


def logged(apps, schema_editor):
    _alter(schema_editor, "LOGGED")


class Migration(migrations.Migration):
    dependencies = [("oidc_provider", "0020_admin_vocabulary")]

    operations = [migrations.RunPython(unlogged, logged)]
