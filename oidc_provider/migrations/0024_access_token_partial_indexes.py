"""The access token table indexes only the rows that have a value in four of its columns.

Every token request writes one access token row, and every index of the table with it. A
client_credentials token has no user, no ID token, no source refresh token and no sign-in session
(``session_id`` is blank), yet each of those four indexes took an entry for it, a NULL or an
empty string that no query ever looks for. Every query on these columns compares them with a
value: ``user_id = …`` (a user's tokens), ``id_token_id = …`` and ``source_refresh_token_id = …``
(the one-to-one links, and PostgreSQL's own foreign-key checks when an ID token or refresh token
is deleted), ``session_id = …`` with a signed-in session's id (``tokens.session_tokens_revoke``).
So on PostgreSQL each index becomes partial, ``WHERE col IS NOT NULL`` (``<> ''`` for the
session): the same name and column, the same answers to those queries, and uniqueness kept for
the two one-to-one links (NULLs were never constrained), but no entry for a row without a value
(docs/performance.md). SQLite keeps the full indexes.
"""

from django.db import migrations

TABLE = "oidc_provider_accesstoken"
# (column, whether it is unique, the rows it indexes)
PARTIAL = [
    ("user_id", False, "user_id IS NOT NULL"),
    ("id_token_id", True, "id_token_id IS NOT NULL"),
    ("source_refresh_token_id", True, "source_refresh_token_id IS NOT NULL"),
    ("session_id", False, "session_id <> ''"),
]


def _existing(cursor, column, unique):
    """Return the names of the table's one-column btree indexes on ``column`` (unique or not)."""
    cursor.execute(
        "SELECT i.relname FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
        "WHERE n.nspname = current_schema() AND t.relname = %s AND x.indnatts = 1 "
        "AND a.attname = %s AND x.indisunique = %s AND NOT x.indisprimary",
        [TABLE, column, unique],
    )
    return [name for (name,) in cursor.fetchall()]


def _rebuild(schema_editor, partial):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for column, unique, predicate in PARTIAL:
        with connection.cursor() as cursor:
            names = _existing(cursor, column, unique)
            # A constraint (the one-to-one links' UNIQUE) owns its index: drop the constraint.
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
                [quote(TABLE)],
            )
            constraints = {name for (name,) in cursor.fetchall()}
        # Django's names are kept, so a later migration finds each index by the name it gave it.
        name = names[0] if names else f"{TABLE}_{column}_{'key' if unique else 'idx'}"[:63]
        for existing in names:
            if existing in constraints:
                schema_editor.execute(f"ALTER TABLE {quote(TABLE)} DROP CONSTRAINT {quote(existing)}")
            else:
                schema_editor.execute(f"DROP INDEX {quote(existing)}")
        kind = "UNIQUE INDEX" if unique else "INDEX"
        where = f" WHERE {predicate}" if partial else ""
        schema_editor.execute(f"CREATE {kind} {quote(name)} ON {quote(TABLE)} ({quote(column)}){where}")
        if unique and not partial:
            # As Django made it: a UNIQUE constraint that owns the index.
            schema_editor.execute(
                f"ALTER TABLE {quote(TABLE)} ADD CONSTRAINT {quote(name)} UNIQUE USING INDEX {quote(name)}"
            )


def partial_indexes(apps, schema_editor):
    _rebuild(schema_editor, partial=True)


def full_indexes(apps, schema_editor):
    _rebuild(schema_editor, partial=False)


class Migration(migrations.Migration):
    dependencies = [("oidc_provider", "0023_token_pattern_indexes")]

    operations = [migrations.RunPython(partial_indexes, full_indexes)]
