"""The token tables stop keeping pattern-matching indexes no query uses.

On PostgreSQL Django gives every indexed or unique text column a second index for ``LIKE``
prefix searches (``varchar_pattern_ops``, the ``…_like`` indexes). Nothing searches the token
checksums, authorization codes or sign-in session ids by prefix: they are found by equality,
which the plain index (or the unique constraint) serves. Each of these indexes still had to be
written by every INSERT, the access token's on every token request (docs/performance.md). SQLite
has no such indexes.
"""

from django.db import migrations

# (table, column) whose pattern index goes; the plain index or unique constraint stays.
PATTERN_INDEXES = [
    ("oidc_provider_accesstoken", "token_checksum"),
    ("oidc_provider_accesstoken", "session_id"),
    ("oidc_provider_refreshtoken", "session_id"),
    ("oidc_provider_idtoken", "session_id"),
    ("oidc_provider_grant", "code"),
    ("oidc_provider_grant", "session_id"),
]


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, column in PATTERN_INDEXES:
            # Django names them with a hash of its own; they are found by what they index.
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = %s AND indexdef LIKE %s",
                [table, f"%({column} varchar_pattern_ops)"],
            )
            for (name,) in cursor.fetchall():
                schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in PATTERN_INDEXES:
        name = schema_editor.quote_name(f"{table}_{column}_like"[:63])
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {schema_editor.quote_name(table)} "
            f"({schema_editor.quote_name(column)} varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("oidc_provider", "0022_verbose_name_plural")]

    operations = [migrations.RunPython(drop, create)]
