"""django-otp's own TOTP and static device apps are gone: no device can be made that sign-in ignores.

A device made through them (their models, their permissions in the admin) held its secret in the
clear, and Porchlight's second-factor checks, which use only accounts/mfa/models.py's devices,
never asked for it.
"""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from accounts.mfa.models import RecoveryCodeDevice, TOTPAuthenticator
from tests.otp_plugin_tables import (
    PLUGIN_MIGRATIONS,
    forget_plugin_tables,
    migrate_to_latest,
    plugin_rows,
    plugin_tables,
    roll_back_with_plugin_tables,
)

PLUGINS = list(PLUGIN_MIGRATIONS)
BEFORE_0011 = ("accounts", "0010_invitation_email")


@pytest.fixture
def plugin_database(transactional_db):
    """Return a function that rolls back to a migration and adds django-otp's plugin tables."""
    yield roll_back_with_plugin_tables
    migrate_to_latest()
    forget_plugin_tables()


def test_admin_offers_no_django_otp_device_kinds(staff):
    index = staff.get("/admin/").content.decode()
    for text in ("TOTP devices", "Static devices", "/admin/otp_totp/", "/admin/otp_static/"):
        assert text not in index
    # Porchlight's own devices are there, and cannot be added by staff.
    assert "/admin/accounts/totpauthenticator/" in index
    assert staff.get("/admin/accounts/totpauthenticator/add/").status_code == 403
    for path in (
        "/admin/otp_totp/totpdevice/add/",
        "/admin/otp_static/staticdevice/add/",
        "/admin/otp_totp/",
        "/admin/otp_static/",
    ):
        assert staff.get(path).status_code == 404, path


def test_admin_permission_picker_offers_no_django_otp_device_permissions(staff):
    page = staff.get("/admin/auth/group/add/").content.decode()
    assert "otp_totp" not in page and "otp_static" not in page
    assert "TOTP device" not in page and "static device" not in page


def test_fresh_database_migrates_without_the_plugin_apps(db):
    # The test database is itself a fresh migration: nothing left to apply, no plugin table.
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert plugin_tables() == set()


def test_database_that_had_the_plugins_moves_their_devices_out_of_their_tables(plugin_database, user):
    # Going back runs 0011 and 0006 in reverse with no plugin table; forward, 0006 finds them.
    old = plugin_database()
    old.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=user.pk, name="Old phone", confirmed=True, key=bytes(range(1, 21)).hex()
    )
    static = old.get_model("otp_static", "StaticDevice").objects.create(user_id=user.pk, name="Codes")
    old.get_model("otp_static", "StaticToken").objects.create(device=static, token="k2ph4a7q")

    migrate_to_latest()

    assert TOTPAuthenticator.objects.get(user=user).name == "Old phone"
    assert RecoveryCodeDevice.objects.get(user=user).codes.count() == 1
    assert_plugins_emptied()


def test_database_migrated_with_the_plugins_loses_devices_made_through_them_since(plugin_database, user):
    # 0006 ran while the apps were installed; a device made through them since sat in the clear,
    # and sign-in never asked for it.
    old = plugin_database(to=BEFORE_0011)
    old.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=user.pk, name="Made in a shell", confirmed=True, key=bytes(range(1, 21)).hex()
    )

    migrate_to_latest()

    assert not TOTPAuthenticator.objects.filter(user=user).exists()
    assert_plugins_emptied()


def assert_plugins_emptied() -> None:
    assert plugin_rows() == 0
    # Left for the previous version, still serving while this one migrates: deleting a user
    # there cascades into them.
    assert plugin_tables() == {"otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken"}
    assert MigrationRecorder(connection).migration_qs.filter(app__in=PLUGINS).exists()
    ContentType.objects.clear_cache()
    assert not ContentType.objects.filter(app_label__in=PLUGINS).exists()
    assert not Permission.objects.filter(content_type__app_label__in=PLUGINS).exists()
