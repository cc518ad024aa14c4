"""Retention: events older than PORCHLIGHT_AUDIT_RETENTION_DAYS are deleted, in batches."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.actions import Action
from audit.models import AuditEvent
from audit.services import audit_purge, audit_record


def aged(days: int, action: Action = Action.LOGIN_SUCCESS) -> AuditEvent:
    event = audit_record(action=action, target=f"{days} days old")
    # created is auto_now_add: backdate it the way time would.
    AuditEvent.objects.filter(pk=event.pk).update(created=timezone.now() - timedelta(days=days))
    return event


def test_audit_purge_deletes_only_events_older_than_the_retention(db, settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "AUDIT_RETENTION_DAYS": 30}
    old = [aged(31) for _ in range(5)]
    recent = aged(29)
    assert audit_purge(batch_size=2) == 5
    assert not AuditEvent.objects.filter(pk__in=[event.pk for event in old]).exists()
    assert AuditEvent.objects.filter(pk=recent.pk).exists()
    purge = AuditEvent.objects.get(action=Action.AUDIT_PURGE)
    assert purge.detail == {"deleted": 5, "days": 30} and purge.actor_label == "audit retention"


def test_audit_purge_deletes_old_events_kept_between_recent_ones(db, settings):
    # Batches continue after the last key they saw: a recent event before old ones stays, and
    # every old one after it still goes.
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "AUDIT_RETENTION_DAYS": 30}
    events = [aged(29 if index % 3 == 0 else 31) for index in range(10)]
    assert audit_purge(batch_size=2) == 6
    kept = set(AuditEvent.objects.exclude(action=Action.AUDIT_PURGE).values_list("pk", flat=True))
    assert kept == {event.pk for index, event in enumerate(events) if index % 3 == 0}


def test_audit_purge_with_nothing_old_records_nothing(db):
    aged(1)
    assert audit_purge() == 0
    assert not AuditEvent.objects.filter(action=Action.AUDIT_PURGE).exists()


def test_audit_retention_defaults_to_a_year(settings):
    assert settings.PORCHLIGHT["AUDIT_RETENTION_DAYS"] == 365


def test_purgeaudit_command_uses_the_setting_or_days(db, settings, capsys):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "AUDIT_RETENTION_DAYS": 100}
    aged(200)
    aged(50)
    call_command("purgeaudit")
    assert "Deleted 1 audit event(s) older than 100 day(s)." in capsys.readouterr().out
    call_command("purgeaudit", "--days", "10")
    assert "Deleted 1 audit event(s) older than 10 day(s)." in capsys.readouterr().out
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [Action.AUDIT_PURGE] * 2


def test_purgeaudit_command_refuses_zero_days(db):
    with pytest.raises(CommandError, match="--days"):
        call_command("purgeaudit", "--days", "0")
