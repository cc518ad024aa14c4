"""Housekeeping prunes what has expired, keeps what is live, and schedules itself once."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from oidc_provider.housekeeping import housekeeping_run, housekeeping_schedule
from oidc_provider.models import AccessToken, Grant, SigningKey


def _token(user, client, *, expires):
    return AccessToken.objects.create(
        user=user, application=client, token=f"t-{expires.timestamp()}", expires=expires, scope="openid"
    )


@pytest.mark.django_db
def test_housekeeping_deletes_expired_tokens_and_grants_in_batches_and_keeps_live_ones(user, rp):
    now = timezone.now()
    for minutes in range(1, 6):
        _token(user, rp.model, expires=now - timedelta(minutes=minutes))
    live = _token(user, rp.model, expires=now + timedelta(minutes=10))
    Grant.objects.create(
        user=user,
        application=rp.model,
        code="expired-code",
        expires=now - timedelta(seconds=1),
        redirect_uri=rp.redirect_uri,
        scope="openid",
    )
    counts = housekeeping_run(batch_size=2)
    assert counts["access_tokens"] == 5
    assert counts["grants"] == 1
    assert list(AccessToken.objects.all()) == [live]
    assert not Grant.objects.exists()
    # Nothing left: a second run deletes nothing.
    again = housekeeping_run(batch_size=2)
    assert again["access_tokens"] == 0 and again["grants"] == 0


@pytest.mark.django_db
def test_housekeeping_creates_the_first_signing_keys():
    assert not SigningKey.objects.exists()
    counts = housekeeping_run()
    assert counts["key_steps"] > 0
    assert SigningKey.objects.filter(state=SigningKey.State.ACTIVE).exists()


@pytest.mark.django_db
def test_housekeeping_schedule_enqueues_one_job_however_often_it_is_called(capsys):
    assert housekeeping_schedule() is True
    assert housekeeping_schedule() is False
    call_command("housekeeping", "--schedule")
    assert "already scheduled" in capsys.readouterr().out
    assert DBTaskResult.objects.filter(task_path="oidc_provider.housekeeping.housekeeping").count() == 1
