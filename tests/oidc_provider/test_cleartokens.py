"""DOT's cleartokens command works on Porchlight's swapped models."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from oidc_provider.models import AccessToken, Grant, IDToken, RefreshToken
from tests.conftest import authorize, exchange


def test_cleartokens_removes_expired_tokens_and_keeps_live_ones(logged_in, rp, client, settings):
    exchange(client, rp, authorize(logged_in, rp))  # expired below
    exchange(client, rp, authorize(logged_in, rp))  # stays live
    old_access = AccessToken.objects.order_by("pk").first()
    long_ago = timezone.now() - timedelta(days=400)
    AccessToken.objects.filter(pk=old_access.pk).update(expires=long_ago)
    IDToken.objects.filter(pk=old_access.id_token_id).update(expires=long_ago)
    RefreshToken.objects.filter(access_token=old_access).update(revoked=long_ago)
    Grant.objects.create(
        application=rp.model,
        user=old_access.user,
        code="stale",
        expires=long_ago,
        redirect_uri=rp.redirect_uri,
        scope="openid",
    )

    call_command("cleartokens")

    assert AccessToken.objects.count() == 1
    assert RefreshToken.objects.count() == 1
    assert IDToken.objects.count() == 1
    assert not Grant.objects.filter(code="stale").exists()
