"""The admin site, opened only through Porchlight's own sign-in.

Django's stock ``AdminSite.login`` checks a password by itself: no second factor, no lockout, no
audit, and its ``login()`` left a session that authorization requests took for a password
sign-in. Here the admin has no login form of its own. Every visit is checked against the session's
authentication context (accounts/authentication.py), and a visitor who lacks a step is sent to
the page that gives it: the sign-in page, the second-factor step, or authenticator enrollment
when staff must use a second factor (``PORCHLIGHT_STAFF_REQUIRE_MFA``).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.decorators import method_decorator
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from .authentication import get_auth_context
from .mfa import policy
from .mfa.views import authenticate_url, with_next
from .views import LogoutView


class Missing(StrEnum):
    """The step a visitor still has to take before the admin opens."""

    SIGN_IN = "sign_in"
    SECOND_FACTOR = "second_factor"
    ENROLLMENT = "enrollment"
    STAFF = "staff"


def admin_step_missing(request: HttpRequest) -> Missing | None:
    """Return what keeps this session out of the admin, or None when it may enter."""
    user = request.user
    context = get_auth_context(request)
    if not user.is_active or context is None:
        # No Porchlight sign-in in this session (or it was made by some other path).
        return Missing.SIGN_IN
    if not user.is_staff:
        return Missing.STAFF
    if context.acr == "mfa":
        return None
    if policy.has_second_factor(user):
        # A user with an authenticator is never let in on the password alone.
        return Missing.SECOND_FACTOR
    if policy.staff_mfa_required(user):
        return Missing.ENROLLMENT
    return None


@dataclass(frozen=True)
class Section:
    """A group of admin pages named after what staff do there, not after the app that holds them.

    ``models`` maps a model's label to the name the index shows for it (None: its own plural name).
    """

    slug: str
    name: str | Promise
    description: str | Promise
    models: dict[str, str | Promise | None]
    superusers_only: bool = False


# Staff think in apps, APIs, people, groups, sessions, keys and the audit log; the rest (tokens,
# codes, deliveries, background tasks, the models behind the user page) is for diagnosing, and
# the pages that need it (a user's, an app's) show it already. Model labels, not classes:
# accounts never imports oidc_provider (docs/design.md).
SECTIONS: tuple[Section, ...] = (
    Section(
        "apps",
        _("Apps & APIs"),
        _("The apps people sign in to, the APIs they call, and what each may ask for."),
        {
            "oidc_provider.Client": _("Apps"),
            "oidc_provider.Api": None,
            "oidc_provider.Role": None,
            "oidc_provider.Consent": _("Consents (apps people allowed)"),
            "oidc_provider.IdentityScope": None,
            "oidc_provider.ClaimDefinition": None,
            "oidc_provider.RegistrationToken": _("Registration tokens (self-registering apps)"),
            "scim.ProvisioningClient": _("SCIM provisioning clients (HR and directory tools)"),
        },
    ),
    Section(
        "people",
        _("People"),
        _("Accounts, the groups they belong to, invitations to join, and sign-ups."),
        {"accounts.User": None, "auth.Group": None, "accounts.Invitation": None, "accounts.SignUp": None},
    ),
    Section(
        "security",
        _("Security"),
        _("Who is signed in, the keys that sign tokens, and the record of what happened."),
        {
            "accounts.LoginSession": None,
            "oidc_provider.SigningKey": None,
            "audit.AuditEvent": _("Audit log"),
            "accounts.LoginFailure": None,
            "upstream.UpstreamProvider": _("Sign-in providers (Google, Entra, GitHub, …)"),
        },
    ),
)
ADVANCED = Section(
    "advanced",
    _("Advanced / diagnostics"),
    _(
        "Raw tokens, codes, second factors and background work, for tracing a problem. "
        "A person's or an app's own page shows what concerns them."
    ),
    {},
    superusers_only=True,
)


def section_of(model: type[models.Model]) -> Section:
    """Return the index section a model's pages belong to."""
    label = model._meta.label
    return next((section for section in SECTIONS if label in section.models), ADVANCED)


class PersonAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete answers that name a person ("Robin Ames (robin)"), not just a username."""

    def serialize_result(self, obj: models.Model, to_field_name: str) -> dict[str, str]:
        # Django's documented hook for the answer's text; django-stubs does not declare it.
        result: dict[str, str] = super().serialize_result(obj, to_field_name)  # type: ignore[misc]
        full_name = getattr(obj, "get_full_name", None)
        if callable(full_name) and full_name():
            result["text"] = f"{full_name()} ({obj})"
        return result


class PorchlightAdminSite(admin.AdminSite):
    site_title = settings.SITE_NAME
    site_header = f"{settings.SITE_NAME} administration"
    index_title = _("Manage apps, people and keys")

    def has_permission(self, request: HttpRequest) -> bool:
        return admin_step_missing(request) is None

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Send the visitor to the step they lack; never check a password here (any method)."""
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("admin:index", current_app=self.name)
        missing = admin_step_missing(request)
        if missing is None:
            return redirect(target)
        if missing == Missing.SIGN_IN:
            return redirect_to_login(target, "accounts:login")
        if missing == Missing.SECOND_FACTOR:
            return redirect(authenticate_url(target))
        if missing == Missing.ENROLLMENT:
            return redirect(with_next(reverse("accounts:mfa:totp-enroll"), target) + "&required=1")
        return render(request, "accounts/admin_denied.html", status=403)

    # django-stubs says these two return a TemplateResponse (Django's own views do); any
    # response will do, and these redirect or answer with the sign-out view's.
    def logout(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponseBase:
        """Sign out through the one sign-out view."""
        return LogoutView.as_view()(request)

    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        """Change the password on the account page, where the old one is checked like a login."""
        return redirect("accounts:password-change")

    def get_urls(self) -> list[URLResolver | URLPattern]:
        urls: list[URLResolver | URLPattern] = [
            path("section/<slug:slug>/", self.admin_view(self.section_index), name="section"),
        ]
        return urls + super().get_urls()

    def section_index(self, request: HttpRequest, slug: str) -> HttpResponse:
        """List one section's pages (the index's groups are sections, not Django apps)."""
        return self.app_index(request, slug)

    def autocomplete_view(self, request: HttpRequest) -> HttpResponseBase:  # type: ignore[override]
        return PersonAutocompleteJsonView.as_view(admin_site=self)(request)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        """Group the pages by what staff do (``SECTIONS``); a Django app's page shows its part of each."""
        by_label: dict[str, dict[str, Any]] = {}
        for app in self._build_app_dict(request).values():
            for entry in app["models"]:
                by_label[entry["model"]._meta.label] = entry
        sections = [*SECTIONS, ADVANCED]
        is_section = app_label in {section.slug for section in sections}
        listed: list[dict[str, Any]] = []
        for section in sections:
            if section.superusers_only and not request.user.is_superuser:
                continue
            if section is ADVANCED:
                known = {label for each in SECTIONS for label in each.models}
                labels = sorted(
                    (label for label in by_label if label not in known),
                    key=lambda label: str(by_label[label]["name"]).lower(),
                )
                names: dict[str, str | Promise | None] = dict.fromkeys(labels)
            else:
                names = section.models
            entries = []
            for label, name in names.items():
                entry = by_label.get(label)
                if entry is None or (app_label and not is_section and not label.startswith(f"{app_label}.")):
                    continue
                entries.append({**entry, "name": name or entry["name"]})
            if entries and (not is_section or section.slug == app_label):
                listed.append(
                    {
                        "name": section.name,
                        "app_label": section.slug,
                        "app_url": reverse(
                            "admin:section", kwargs={"slug": section.slug}, current_app=self.name
                        ),
                        "has_module_perms": True,
                        "models": entries,
                        "description": section.description,
                    }
                )
        return listed

    def app_index(
        self, request: HttpRequest, app_label: str, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        app_list = self.get_app_list(request, app_label)
        if not app_list:
            raise Http404("The requested admin page does not exist.")
        title = app_list[0]["name"] if len(app_list) == 1 else self.index_title
        context = {"title": title, **(extra_context or {})}
        return super().app_index(request, app_label, context)
