"""The steps of a sign-in through an upstream provider, which the views call.

1. ``sign_in_start`` sends the browser to the upstream with a fresh state, nonce and PKCE
   challenge (Authlib keeps them in the session, keyed by the state).
2. ``upstream_identity`` redeems the code and returns who the upstream says signed in: the
   validated ID token's claims (OpenID Connect) or GitHub's user and verified primary address.
3. ``sign_in_complete`` decides: a linked identity signs its account in; a verified address
   matching an account waits for that account's owner to sign in the usual way
   (``link_offer``/``link_confirm``), never linked silently; no match makes an account when the
   provider may and the address's domain is allowed. Anything else is a ``SignInFailure``.

After the upstream step Porchlight's own policy still applies: a user with a second factor is
asked for it, unless the provider is trusted for that and its ID token's ``amr`` says one was
used. The sign-in's ``amr`` starts with "fed" (a federated sign-in, as Microsoft Entra reports it;
RFC 8176 §2 registers no such value, and OIDC Core 1.0 §2 allows others).
"""

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.authentication import get_auth_context
from accounts.mfa import flows as mfa_flows
from accounts.mfa import policy as mfa_policy
from accounts.models import LoginSession, User
from accounts.recent_auth import recently_authenticated
from accounts.sessions import record_authentication
from audit.actions import Action
from audit.services import audit_record

from .clients import UPSTREAM_ERRORS, id_token_claims_options, oauth_app, redirect_uri
from .models import PROFILE_FIELDS, LinkedIdentity, UpstreamProvider, UpstreamSession

BACKEND = "django.contrib.auth.backends.ModelBackend"
# The upstream sign-in waiting for its Porchlight sign-in to finish (a second factor, maybe): the
# LoginSession made then is tied to it (``upstream_session_record``), for the upstream's logout.
SESSION_KEY = "porchlight_upstream"
LINK_KEY = "porchlight_upstream_link"
# As long as the second-factor step waits (accounts/mfa/flows.py), and for linking a little more:
# the owner may need to find their password.
PENDING_LIFETIME = 10 * 60
# The RFC 8176 values a trusted upstream's amr may pass on (others are dropped, not invented).
RFC8176_AMR = {
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba",
    "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
}  # fmt: skip
FEDERATED_AMR = "fed"


class SignInFailure(Exception):
    """An upstream sign-in that cannot go on; ``reason`` is the audited code, ``message`` the page's words."""

    def __init__(self, reason: str, message: str, *, error: str = "", status: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.message, self.error, self.status = reason, message, error, status


@dataclass(frozen=True)
class UpstreamIdentity:
    subject: str
    email: str = ""
    email_verified: bool = False
    claims: dict[str, Any] = field(default_factory=dict)
    amr: tuple[str, ...] = ()
    acr: str = ""
    sid: str = ""


@dataclass(frozen=True)
class Outcome:
    """Where the person goes next: ``user`` signed in (or waiting for a second factor), or a link offer."""

    next_url: str
    user: User | None = None
    second_factor: bool = False
    link_offered: bool = False
    created: bool = False


# --- 1. to the upstream ------------------------------------------------------------------------


def sign_in_start(request: HttpRequest, *, provider: UpstreamProvider, next_url: str) -> str:
    """Remember the request's state, nonce, PKCE verifier and ``next_url``; return the upstream's URL."""
    app = oauth_app(provider)
    try:
        found = app.create_authorization_url(redirect_uri(provider))
    except UPSTREAM_ERRORS as exc:
        raise failure(request, provider, "unreachable", exc) from exc
    app.save_authorize_data(request, redirect_uri=redirect_uri(provider), next=next_url, **found)
    return str(found["url"])


# --- 2. back from the upstream -------------------------------------------------------------------


def callback_next(request: HttpRequest, provider: UpstreamProvider) -> str | None:
    """Return the ``next`` saved with this callback's state, or None when the state is unknown."""
    app = oauth_app(provider)
    data = app.framework.get_state_data(request.session, request.GET.get("state") or "")
    return str(data.get("next") or "") if isinstance(data, dict) else None


def upstream_identity(request: HttpRequest, provider: UpstreamProvider) -> UpstreamIdentity:
    """Redeem the callback's code and return the identity the upstream vouches for."""
    if callback_next(request, provider) is None:
        # A callback whose state this browser never sent (or already used): forged or replayed.
        raise failure(request, provider, "state", "unknown or already used state")
    app = oauth_app(provider)
    if request.GET.get("error"):
        # RFC 6749 §4.1.2.1: the upstream refused (the person cancelled, or it is misconfigured).
        app.framework.clear_state_data(request.session, request.GET.get("state"))
        error = f"{request.GET.get('error')}: {request.GET.get('error_description', '')}"[:200]
        raise failure(request, provider, "upstream_error", error)
    try:
        if provider.kind == UpstreamProvider.Kind.GITHUB:
            return _github_identity(request, app)
        return _oidc_identity(request, app)
    except SignInFailure as exc:
        raise failure(request, provider, exc.reason, exc.error or exc.reason) from exc
    except UPSTREAM_ERRORS as exc:
        raise failure(request, provider, _reason(exc), exc) from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.RequestException):
        return "unreachable"  # down, refused, timed out, or an HTTP error status
    if isinstance(exc, OAuthError):
        return "upstream_error"  # an OAuth error answer from its token endpoint (RFC 6749 §5.2)
    return "invalid_token"  # an answer that fails validation (signature, claims, shape)


def _oidc_identity(request: HttpRequest, app) -> UpstreamIdentity:
    metadata = app.load_server_metadata()
    iss = request.GET.get("iss")
    if iss is None and metadata.get("authorization_response_iss_parameter_supported") is True:
        raise SignInFailure("invalid_token", "", error="the response has no iss (RFC 9207 §2.4)")
    if iss is not None and iss != metadata["issuer"]:
        # RFC 9207 §2.4: an answer naming another issuer is a mix-up; the code is not redeemed.
        raise SignInFailure("invalid_token", "", error="the response's iss is another issuer (RFC 9207 §2.4)")
    token = app.authorize_access_token(request, claims_options=id_token_claims_options(app), leeway=60)
    claims = token.get("userinfo")
    if not claims:
        # OIDC Core 1.0 §3.1.3.3: the token response of an OpenID request carries an ID token.
        raise SignInFailure("invalid_token", "", error="no ID token in the token response")
    claims = dict(claims)
    if "email" not in claims and app.load_server_metadata().get("userinfo_endpoint"):
        userinfo = dict(app.userinfo(token=token))
        # OIDC Core 1.0 §5.3.2: UserInfo's sub must be the ID token's, or its claims are not used.
        if userinfo.get("sub") == claims["sub"]:
            claims = {**userinfo, **claims}
    amr = claims.get("amr")
    return UpstreamIdentity(
        subject=str(claims["sub"]),
        email=str(claims.get("email") or ""),
        email_verified=claims.get("email_verified") is True,
        claims=claims,
        amr=tuple(value for value in amr if isinstance(value, str)) if isinstance(amr, list) else (),
        acr=str(claims.get("acr") or ""),
        sid=str(claims.get("sid") or ""),
    )


def _github_identity(request: HttpRequest, app) -> UpstreamIdentity:
    token = app.authorize_access_token(request)
    user = app.get("user", token=token)
    user.raise_for_status()
    profile = user.json()
    # GitHub's REST API, "List email addresses for the authenticated user": the user's addresses,
    # each with whether GitHub verified it and whether it is the primary one.
    emails = app.get("user/emails", token=token)
    emails.raise_for_status()
    primary = next((entry for entry in emails.json() if isinstance(entry, dict) and entry.get("primary")), {})
    name = str(profile.get("name") or "")
    given, _, family = name.partition(" ")
    subject, email = str(profile["id"]), str(primary.get("email") or "")
    verified = primary.get("verified") is True
    claims: dict[str, Any] = {
        "sub": subject,
        "preferred_username": str(profile.get("login") or ""),
        "name": name,
        "given_name": given,
        "family_name": family,
        "picture": str(profile.get("avatar_url") or ""),
        "profile": str(profile.get("html_url") or ""),
        "email": email,
        "email_verified": verified,
    }
    return UpstreamIdentity(subject=subject, email=email, email_verified=verified, claims=claims)


# --- 3. who signs in ---------------------------------------------------------------------------


def sign_in_complete(
    request: HttpRequest, *, provider: UpstreamProvider, identity: UpstreamIdentity, next_url: str
) -> Outcome:
    """Sign in the account ``identity`` belongs to, link or make one, or raise ``SignInFailure``."""
    linked = LinkedIdentity.objects.filter(provider=provider, subject=identity.subject).select_related("user")
    link = linked.first()
    if link is not None:
        if not link.user.is_active:
            raise failure(request, provider, "account_inactive", "the linked account is deactivated")
        return _sign_in(request, provider=provider, identity=identity, link=link, next_url=next_url)
    if request.user.is_authenticated and isinstance(request.user, User):
        # Linking from the account page: the signed-in owner confirms on the next page.
        return link_offer(request, provider=provider, identity=identity, user=request.user, next_url=next_url)
    if not (identity.email and identity.email_verified):
        raise failure(request, provider, "email_unverified", "no verified e-mail address")
    matches = list(get_user_model().objects.filter(email__iexact=identity.email)[:2])
    if len(matches) > 1:
        raise failure(request, provider, "several_accounts", "several accounts have this address")
    if matches:
        return link_offer(request, provider=provider, identity=identity, user=matches[0], next_url=next_url)
    if not provider.may_create_accounts:
        raise failure(request, provider, "no_account", "no account has this address")
    domain = identity.email.rpartition("@")[2].lower()
    if provider.domains() and domain not in provider.domains():
        raise failure(request, provider, "domain_not_allowed", f"accounts are not made for {domain}")
    link = account_create(request, provider=provider, identity=identity)
    outcome = _sign_in(request, provider=provider, identity=identity, link=link, next_url=next_url)
    return Outcome(outcome.next_url, user=outcome.user, second_factor=outcome.second_factor, created=True)


def _sign_in(
    request: HttpRequest,
    *,
    provider: UpstreamProvider,
    identity: UpstreamIdentity,
    link: LinkedIdentity,
    next_url: str,
) -> Outcome:
    user = link.user
    profile_sync(user=user, provider=provider, identity=identity)
    link.last_used = timezone.now()
    if identity.email:
        link.email = identity.email
    link.save(update_fields=["last_used", "email"])
    trusted = provider.trust_mfa and (
        "mfa" in identity.amr or (bool(identity.acr) and identity.acr in provider.mfa_acr_values.split())
    )
    methods = [FEDERATED_AMR]
    if trusted:
        # RFC 8176 §2 "mfa": the upstream says (by amr or by an acr staff named) a second factor was used.
        methods += [*(m for m in identity.amr if m in RFC8176_AMR and m != "mfa"), "mfa"]
    audit_record(
        action=Action.UPSTREAM_SIGN_IN,
        target=user,
        actor=user,
        detail={
            "provider": provider.slug,
            "upstream_amr": list(identity.amr),
            "upstream_acr": identity.acr,
            "mfa_trusted": trusted,
        },
        request=request,
    )
    pending = {
        "provider": provider.pk,
        "user": user.pk,
        "sid": identity.sid,
        "sub": identity.subject,
        "expires": int(time.time()) + PENDING_LIFETIME,
    }
    if not trusted and mfa_policy.has_second_factor(user):
        # Porchlight's own second factor, as after a password (accounts/views.py LoginView).
        user.backend = BACKEND  # type: ignore[attr-defined]  # as authenticate() sets it
        mfa_flows.login_pending_start(request, user=user, first_factors=methods)
        request.session[SESSION_KEY] = pending
        return Outcome(next_url, user=user, second_factor=True)
    login(request, user, backend=BACKEND)
    # After login(), which may have flushed the session: the LoginSession made next reads it.
    request.session[SESSION_KEY] = pending
    context = record_authentication(request, methods)
    mfa_flows.login_success_record(request, user=user, context=context)
    return Outcome(next_url, user=user)


def upstream_session_record(request: HttpRequest, session: LoginSession) -> None:
    """Tie the new sign-in ``session`` to the upstream sign-in that began it, if one did."""
    pending = request.session.pop(SESSION_KEY, None)
    if not isinstance(pending, dict) or pending.get("user") != session.user_id:
        return
    if FEDERATED_AMR not in session.amr:
        # The upstream sign-in was abandoned (at the second factor) and this one is another.
        return
    if pending.get("expires", 0) < time.time():
        return
    provider = UpstreamProvider.objects.filter(pk=int(pending.get("provider") or 0)).first()
    if provider is not None:
        UpstreamSession.objects.create(
            provider=provider,
            login_session=session,
            upstream_sid=str(pending.get("sid") or ""),
            upstream_subject=str(pending.get("sub") or ""),
        )


def profile_sync(*, user: User, provider: UpstreamProvider, identity: UpstreamIdentity) -> None:
    """Copy the mapped claims into the profile and the mapped groups into the account's groups."""
    changed = []
    for claim, field_name in (provider.claim_map or {}).items():
        value = identity.claims.get(claim)
        if field_name in PROFILE_FIELDS and isinstance(value, str) and value != getattr(user, field_name):
            limit = getattr(User._meta.get_field(field_name), "max_length", None)
            setattr(user, field_name, value[:limit] if limit else value)
            changed.append(field_name)
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    if provider.group_map and provider.group_claim:
        listed = identity.claims.get(provider.group_claim)
        values = {str(value) for value in listed} if isinstance(listed, list) else set()
        names = set(provider.group_map.values())
        wanted = {name for value, name in provider.group_map.items() if value in values}
        for name in names:
            if name in wanted:
                group, _ = Group.objects.get_or_create(name=name)
                user.groups.add(group)
            else:
                user.groups.remove(*Group.objects.filter(name=name))


def _free_username(identity: UpstreamIdentity) -> str:
    field_length = User._meta.get_field("username").max_length or 150
    wanted = str(identity.claims.get("preferred_username") or identity.email.partition("@")[0])
    base = "".join(ch for ch in wanted if ch.isalnum() or ch in "@.+-_")[: field_length - 8] or "user"
    candidate = base
    while User.objects.filter(username__iexact=candidate).exists():
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


@transaction.atomic
def account_create(
    request: HttpRequest, *, provider: UpstreamProvider, identity: UpstreamIdentity
) -> LinkedIdentity:
    """Make an account for ``identity``, linked to it, with no password; all of it or nothing."""
    user = User(username=_free_username(identity), email=identity.email, email_verified=True)
    user.set_unusable_password()
    user.save()
    link = LinkedIdentity.objects.create(
        user=user, provider=provider, subject=identity.subject, email=identity.email
    )
    profile_sync(user=user, provider=provider, identity=identity)
    audit_record(
        action=Action.UPSTREAM_ACCOUNT_CREATE,
        target=user,
        actor_label=f"upstream {provider.slug}",
        detail={"provider": provider.slug, "groups": sorted(user.groups.values_list("name", flat=True))},
        request=request,
    )
    return link


# --- linking an existing account -----------------------------------------------------------------


def link_offer(
    request: HttpRequest, *, provider: UpstreamProvider, identity: UpstreamIdentity, user: User, next_url: str
) -> Outcome:
    """Hold ``identity`` until ``user`` signs in the usual way and confirms the link."""
    request.session[LINK_KEY] = {
        "provider": provider.pk,
        "subject": identity.subject,
        "email": identity.email,
        "user": user.pk,
        "next": next_url,
        "expires": int(time.time()) + PENDING_LIFETIME,
    }
    audit_record(
        action=Action.UPSTREAM_LINK_OFFER,
        target=user,
        actor_label=f"upstream {provider.slug}",
        detail={"provider": provider.slug},
        request=request,
    )
    return Outcome(next_url, user=user, link_offered=True)


@dataclass(frozen=True)
class LinkPending:
    provider: UpstreamProvider
    subject: str
    email: str
    user_id: int
    next_url: str


def link_pending(request: HttpRequest) -> LinkPending | None:
    """Return the identity waiting to be linked in this browser, or None (none, or it expired)."""
    data = request.session.get(LINK_KEY)
    if not isinstance(data, dict) or data.get("expires", 0) < time.time():
        request.session.pop(LINK_KEY, None)
        return None
    provider = UpstreamProvider.objects.filter(pk=int(data.get("provider") or 0)).first()
    if provider is None:
        return None
    return LinkPending(
        provider,
        str(data["subject"]),
        str(data.get("email") or ""),
        int(data["user"]),
        str(data.get("next") or ""),
    )


def link_may_confirm(request: HttpRequest, pending: LinkPending) -> bool:
    """Return whether this session is the account's owner, signed in one of the account's existing ways.

    That is Porchlight's own sign-in (password, passkey), or another upstream provider already
    linked to the account; never the sign-in that is waiting to be linked.
    """
    context = get_auth_context(request)
    if context is None or request.user.pk != pending.user_id:
        return False
    # A new way into the account asks for a fresh sign-in, as a new second factor does
    # (accounts/recent_auth.py): a session left open hours ago cannot add one.
    if not recently_authenticated(request):
        return False
    if FEDERATED_AMR not in context.amr:
        return True
    began = UpstreamSession.objects.filter(login_session__sid=context.session_id).first()
    return (
        began is not None
        and began.provider_id != pending.provider.pk
        and LinkedIdentity.objects.filter(user_id=pending.user_id, provider_id=began.provider_id).exists()
    )


def link_confirm(request: HttpRequest, pending: LinkPending) -> LinkedIdentity:
    """Link the pending identity to the signed-in owner (``link_may_confirm`` said they may)."""
    request.session.pop(LINK_KEY, None)
    assert isinstance(request.user, User)
    try:
        with transaction.atomic():
            link = LinkedIdentity.objects.create(
                user=request.user, provider=pending.provider, subject=pending.subject, email=pending.email
            )
    except IntegrityError as exc:
        # Linked meanwhile (to this account or another): one upstream identity, one account.
        raise failure(request, pending.provider, "link_refused", "already linked") from exc
    audit_record(
        action=Action.UPSTREAM_LINK,
        target=request.user,
        actor=request.user,
        detail={"provider": pending.provider.slug},
        request=request,
    )
    return link


def sign_in_methods_left(link: LinkedIdentity) -> bool:
    """Return whether the account can still sign in without ``link``: a password, a passkey, another link."""
    user = link.user
    return (
        user.has_usable_password()
        or bool(mfa_policy.passkeys(user))
        or LinkedIdentity.objects.filter(user=user).exclude(pk=link.pk).exists()
    )


def identity_unlink(request: HttpRequest, *, link: LinkedIdentity, actor: User) -> None:
    """Unlink ``link`` (its owner or staff acting), ending nothing else; audited."""
    link.delete()
    audit_record(
        action=Action.UPSTREAM_UNLINK,
        target=link.user,
        actor=actor,
        detail={"provider": link.provider.slug},
        request=request,
    )


# --- failures ---------------------------------------------------------------------------------


MESSAGES = {
    "state": _("This sign-in link was already used or did not start here. Please start again."),
    "upstream_error": _("%(provider)s did not sign you in."),
    "unreachable": _("%(provider)s could not be reached, or did not answer in time. Please try again later."),
    "invalid_token": _("%(provider)s's answer could not be verified, so it was not used."),
    "email_unverified": _("%(provider)s did not confirm your e-mail address, which an account here needs."),
    "no_account": _(
        "No account here goes with your %(provider)s sign-in. Ask the people who run this service."
    ),
    "domain_not_allowed": _("Accounts are not made here for your e-mail address's domain."),
    "account_inactive": _("The account this %(provider)s sign-in belongs to is deactivated."),
    "several_accounts": _("More than one account here has your address. Sign in the usual way."),
    "link_refused": _("That %(provider)s sign-in is already linked to an account."),
}
STATUS = {"unreachable": 502}


def failure(request: HttpRequest, provider: UpstreamProvider, reason: str, error: object) -> SignInFailure:
    """Audit a failed upstream sign-in; return the exception that shows its page."""
    text = str(error)[:300] or type(error).__name__
    audit_record(
        action=Action.UPSTREAM_FAILURE,
        target=provider.slug,
        actor_label=f"upstream {provider.slug}",
        detail={"provider": provider.slug, "reason": reason, "error": text},
        request=request,
    )
    message = MESSAGES.get(reason, MESSAGES["upstream_error"]) % {"provider": provider.label}
    return SignInFailure(reason, message, error=text, status=STATUS.get(reason, 400))
