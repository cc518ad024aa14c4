"""Remembered consent: what each user has allowed each client, and taking it back (docs/design.md, gap 10).

OIDC Core 1.0 §3.1.2.4 lets the authorization server establish consent "through the
interactive dialogue or by other means"; a stored grant is that other means. The consent page
is asked again whenever a client requests a scope the user has not allowed it, including
``offline_access`` (OIDC Core 1.0 §11: offline access needs the user's explicit consent).
Claims a client asks for by name with the claims parameter (OIDC Core 1.0 §5.5), beyond what
its scopes release, are allowed one by one and remembered in ``Consent.claims`` the same way.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import LoginSession, User
from audit.actions import Action
from audit.services import audit_record

from .claims import claim_scope, field_claims, scope_description
from .logout import logout_deliveries_queue
from .models import AccessToken, ApiScope, Client, Consent, DeviceGrant, Grant
from .standard_claims import SCOPE_DESCRIPTIONS
from .tokens import user_tokens_revoke


def consent_scopes(*, user: User, client: Client) -> list[str]:
    """Return the scopes ``user`` has allowed ``client``; empty when there is no consent."""
    return Consent.objects.filter(user=user, client=client).values_list("scopes", flat=True).first() or []


def consent_covers(*, user: User, client: Client, scopes: Iterable[str], claims: Iterable[str] = ()) -> bool:
    """Return whether ``user`` has already allowed ``client`` every one of ``scopes`` and ``claims``."""
    wanted, wanted_claims = set(scopes), set(claims)
    row = Consent.objects.filter(user=user, client=client).values_list("scopes", "claims").first()
    if row is None or not wanted:
        return False
    return wanted <= set(row[0]) and wanted_claims <= set(row[1] or [])


@transaction.atomic
def consent_grant(
    *,
    user: User,
    client: Client,
    scopes: Iterable[str],
    claims: Iterable[str] = (),
    request: HttpRequest | None = None,
) -> Consent:
    """Record that ``user`` allowed ``client`` ``scopes`` and ``claims``, added to what was allowed before."""
    scopes, claims = list(dict.fromkeys(scopes)), list(dict.fromkeys(claims))
    # get_or_create retries the lookup when a concurrent grant wins the insert (the
    # one-consent-per-user-and-client constraint), and select_for_update then waits for that
    # grant's transaction, so two answers at once merge instead of one losing its scopes.
    consent, created = Consent.objects.select_for_update().get_or_create(
        user=user, client=client, defaults={"scopes": scopes, "claims": claims}
    )
    if not created:
        consent.scopes = list(dict.fromkeys([*consent.scopes, *scopes]))
        consent.claims = list(dict.fromkeys([*(consent.claims or []), *claims]))
        consent.save(update_fields=["scopes", "claims", "updated"])
    detail = {"client_id": client.client_id, "scopes": scopes, "allowed": consent.scopes}
    if consent.claims:
        detail.update(claims=claims, allowed_claims=consent.claims)
    audit_record(action=Action.CONSENT_GRANT, target=user, actor=user, detail=detail, request=request)
    return consent


@transaction.atomic
def consent_revoke(
    *,
    user: User,
    client: Client,
    actor: User | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Forget ``user``'s consent to ``client`` and revoke everything the client holds for them.

    ``actor`` is who revoked it (staff), the user when not given.
    """
    scopes = consent_scopes(user=user, client=client)
    Consent.objects.filter(user=user, client=client).delete()
    # An authorization code not yet exchanged would otherwise still buy fresh tokens.
    Grant.objects.filter(user=user, application=client).delete()
    # Likewise a device grant the user approved that the device has not redeemed yet.
    DeviceGrant.objects.filter(user=user, client_id=client.client_id).delete()
    tokens = user_tokens_revoke(user=user, client=client)
    # Back-Channel Logout 1.0 §2.5: the app is told, for each live sign-in it took part in, to
    # end its own session with the user (queued in this transaction, delivered by the worker).
    live = LoginSession.objects.filter(
        user=user, ended__isnull=True, expires__gt=timezone.now(), client_links__client=client
    )
    for session in live.distinct():
        logout_deliveries_queue(session=session, client=client, reason="consent_revoked")
    audit_record(
        action=Action.CONSENT_REVOKE,
        target=user,
        actor=actor or user,
        detail={"client_id": client.client_id, "scopes": scopes, "tokens_revoked": tokens},
        request=request,
    )


def scope_descriptions(scopes: Iterable[str]) -> list[tuple[str, str]]:
    """Return each scope with what it shares, in plain words, for the user's pages."""
    scopes = list(scopes)
    # An API's scopes in the words staff gave them (docs/apis.md); one query, only if there are any.
    others = [scope for scope in scopes if scope not in SCOPE_DESCRIPTIONS]
    words: dict[str, str] = {}
    if others:
        words.update(ApiScope.objects.filter(name__in=others).values_list("name", "description"))
    return [(scope, words.get(scope) or scope_description(scope)) for scope in scopes]


def consent_field_readers(user: User) -> dict[str, list[str]]:
    """Return, for each profile field, the names of the apps ``user`` allowed the scope that releases it."""
    consents = Consent.objects.filter(user=user).select_related("client").order_by("client__name", "pk")
    # A claim allowed by name counts as its scope would, for that one claim.
    allowed = [
        (
            consent.client.name or "Unnamed app",
            {*consent.scopes, *(f"claim:{c}" for c in consent.claims or [])},
        )
        for consent in consents
    ]
    # Trusted first-party apps are never asked (no consent row): what their tokens carry is
    # what they were given.
    trusted: dict[str, set[str]] = {}
    tokens = AccessToken.objects.filter(user=user, application__skip_authorization=True)
    for name, scope in tokens.values_list("application__name", "scope"):
        trusted.setdefault(name or "Unnamed app", set()).update(scope.split())
    allowed = sorted([*allowed, *trusted.items()], key=lambda item: item[0].casefold())
    # Each field is readable by the scope that releases its claim, or by the claim allowed singly.
    readable_by = {field: (claim_scope(claim), f"claim:{claim}") for field, claim in field_claims().items()}
    return {
        field: [name for name, scopes in allowed if not scopes.isdisjoint(keys)]
        for field, keys in readable_by.items()
    }
