"""A database from when django-otp's otp_totp and otp_static apps were installed and migrated.

Those apps are no longer installed, so their models cannot be imported; their tables are made
here from model states with the columns django-otp 1.x's own migrations (up to 0003) gave them.
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ModelState, StateApps

BEFORE_0006 = ("accounts", "0005_loginfailure_reset_scopes")
PLUGIN_MIGRATIONS = {
    "otp_totp": ["0001_initial", "0002_auto_20190420_0723", "0003_add_timestamps"],
    "otp_static": ["0001_initial", "0002_throttling", "0003_add_timestamps"],
}
PLUGIN_MODELS = {"otp_totp": ["totpdevice"], "otp_static": ["staticdevice", "statictoken"]}


def _device_fields() -> list[tuple[str, models.Field]]:
    # django_otp.models.Device, ThrottlingMixin and TimestampMixin.
    return [
        ("id", models.AutoField(primary_key=True)),
        ("user", models.ForeignKey("accounts.User", models.CASCADE)),
        ("name", models.CharField(max_length=64)),
        ("confirmed", models.BooleanField(default=True)),
        ("throttling_failure_timestamp", models.DateTimeField(null=True)),
        ("throttling_failure_count", models.PositiveIntegerField(default=0)),
        ("created_at", models.DateTimeField(null=True)),
        ("last_used_at", models.DateTimeField(null=True)),
    ]


def _plugin_states() -> list[ModelState]:
    totp: list[tuple[str, models.Field]] = [
        ("key", models.CharField(max_length=80)),
        ("step", models.PositiveSmallIntegerField(default=30)),
        ("t0", models.BigIntegerField(default=0)),
        ("digits", models.PositiveSmallIntegerField(default=6)),
        ("tolerance", models.PositiveSmallIntegerField(default=1)),
        ("drift", models.SmallIntegerField(default=0)),
        ("last_t", models.BigIntegerField(default=-1)),
    ]
    token: list[tuple[str, models.Field]] = [
        ("id", models.AutoField(primary_key=True)),
        ("device", models.ForeignKey("otp_static.StaticDevice", models.CASCADE, related_name="token_set")),
        ("token", models.CharField(max_length=16, db_index=True)),
    ]
    return [
        ModelState("otp_totp", "TOTPDevice", [*_device_fields(), *totp]),
        ModelState("otp_static", "StaticDevice", _device_fields()),
        ModelState("otp_static", "StaticToken", token),
    ]


def roll_back_with_plugin_tables(to: tuple[str, str] = BEFORE_0006) -> StateApps:
    """Migrate back to ``to``, add django-otp's plugin tables as migrated there; return their models."""
    executor = MigrationExecutor(connection)
    executor.migrate([to])
    state = executor.loader.project_state([to])
    for model_state in _plugin_states():
        state.add_model(model_state)
    old = state.apps
    with connection.schema_editor() as editor:
        for app_label, names in PLUGIN_MODELS.items():
            for name in names:
                editor.create_model(old.get_model(app_label, name))
    # What the apps' own migrations and post_migrate left in the database besides the tables.
    recorder = MigrationRecorder(connection)
    for app_label, names in PLUGIN_MIGRATIONS.items():
        for name in names:
            recorder.record_applied(app_label, name)
    for app_label, names in PLUGIN_MODELS.items():
        for name in names:
            content_type = ContentType.objects.create(app_label=app_label, model=name)
            Permission.objects.create(
                content_type=content_type, codename=f"add_{name}", name=f"Can add {name}"
            )
    ContentType.objects.clear_cache()
    return old


def migrate_to_latest() -> None:
    """Apply every migration not yet applied."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def plugin_tables() -> set[str]:
    """Return the django-otp plugin tables the database holds."""
    return {
        table
        for table in connection.introspection.table_names()
        if table.startswith(("otp_totp_", "otp_static_"))
    }


def plugin_rows() -> int:
    """Return how many rows the django-otp plugin tables hold between them."""
    with connection.cursor() as cursor:
        total = 0
        for table in plugin_tables():
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            total += cursor.fetchone()[0]
    return total


def forget_plugin_tables() -> None:
    """Drop django-otp's plugin tables and the record of their migrations, as a new database has neither."""
    with connection.schema_editor() as editor:
        for table in ("otp_static_statictoken", "otp_static_staticdevice", "otp_totp_totpdevice"):
            if table in plugin_tables():
                editor.execute(f"DROP TABLE {editor.quote_name(table)}")
    MigrationRecorder(connection).migration_qs.filter(app__in=list(PLUGIN_MIGRATIONS)).delete()
