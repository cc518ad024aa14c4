"""What the protocol side adds to a person's data export (accounts/export/services.py): apps and tokens.

Summaries only: which app, which scopes, when issued and until when. Never a token's value or
its hash, never a client secret.
"""

from typing import Any

from django.db.models import Max, Min

from accounts.export.services import EXPORT_SECTIONS
from accounts.models import User

from .claims import claim_description
from .consent import scope_descriptions
from .models import AccessToken, Client, Consent, IDToken, RefreshToken, SessionClient
from .subjects import subject_for


def consents_section(user: User) -> list[dict[str, Any]]:
    """Return the apps ``user`` allowed, with the scopes and when (OIDC Core 1.0 §3.1.2.4)."""
    return [
        {
            "app": consent.client.name,
            "client_id": consent.client.client_id,
            "scopes": consent.scopes,
            "in_plain_words": [description for _, description in scope_descriptions(consent.scopes)],
            # Claims allowed one by one (the claims parameter, OIDC Core 1.0 §5.5).
            "claims": [
                {"claim": claim, "in_plain_words": claim_description(claim)} for claim in consent.claims
            ],
            "first_granted": consent.created,
            "last_granted": consent.updated,
        }
        for consent in Consent.objects.filter(user=user)
        .select_related("client")
        .order_by("client__name", "pk")
    ]


def connected_apps_section(user: User) -> list[dict[str, Any]]:
    """Return every app that holds a consent, a token or a sign-in of ``user``."""
    client_ids = (
        set(Consent.objects.filter(user=user).values_list("client_id", flat=True))
        | set(AccessToken.objects.filter(user=user).values_list("application_id", flat=True))
        | set(RefreshToken.objects.filter(user=user).values_list("application_id", flat=True))
        | set(SessionClient.objects.filter(session__user=user).values_list("client_id", flat=True))
    )
    apps = []
    for client in Client.objects.filter(pk__in=client_ids - {None}).order_by("name", "pk"):
        signed_in = SessionClient.objects.filter(session__user=user, client=client).aggregate(
            first=Min("first_seen"), last=Max("first_seen")
        )
        apps.append(
            {
                "app": client.name,
                "client_id": client.client_id,
                # The identifier this app knows the person by: theirs, or the app's sector's (§8).
                "sub": subject_for(user, client),
                "allowed": Consent.objects.filter(user=user, client=client).exists(),
                # OIDC Core 1.0 §11: access that outlives the sign-in until revoked.
                "offline_access": RefreshToken.objects.filter(
                    user=user, application=client, offline=True, revoked__isnull=True
                ).exists(),
                "first_signed_in": signed_in["first"],
                "last_signed_in": signed_in["last"],
                "last_token_issued": AccessToken.objects.filter(user=user, application=client).aggregate(
                    last=Max("created")
                )["last"],
            }
        )
    return apps


def _token_rows(
    model: type[AccessToken | RefreshToken | IDToken], user: User, **columns: str
) -> list[dict[str, Any]]:
    """Return ``user``'s ``model`` rows, oldest first, as the app plus ``columns`` (name: column)."""
    rows = (
        model.objects.filter(user=user)
        .order_by("created", "pk")
        .values("application__name", "application__client_id", *columns.values())
    )
    return [
        {
            "app": row["application__name"],
            "client_id": row["application__client_id"],
            **{name: row[column] for name, column in columns.items()},
        }
        for row in rows
    ]


def tokens_section(user: User) -> dict[str, list[dict[str, Any]]]:
    """Return a summary of ``user``'s tokens: app, scope, issued, expiry; never the token."""
    return {
        "access_tokens": _token_rows(AccessToken, user, scope="scope", issued="created", expires="expires"),
        "refresh_tokens": _token_rows(
            RefreshToken, user, offline_access="offline", issued="created", revoked="revoked"
        ),
        "id_tokens": _token_rows(IDToken, user, scope="scope", issued="created", expires="expires"),
    }


EXPORT_SECTIONS.update(
    {"consents": consents_section, "connected_apps": connected_apps_section, "tokens": tokens_section}
)
