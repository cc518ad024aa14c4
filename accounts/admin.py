"""Admin for users and their OIDC claim fields, and for failed logins and lockouts.

The user page shows a person whole: besides their fields, sections for their second factors,
their account and recent audit events, and whatever the concerns and other apps add
(``user_page.USER_PAGE_SECTIONS``: e-mail, account status and data here, consents and tokens
from oidc_provider, since accounts never imports it). Each section's buttons post to the page's
action URL; every action is audited.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_otp_webauthn.models import WebAuthnCredential

from audit.actions import Action
from audit.services import audit_record, events_about

from .attributes import AttributesForm, attributes_defined
from .export import admin as export_admin  # noqa: F401  (the user page's "Data" section)
from .forms import language_choices, time_zone_choices
from .invitations.forms import InviteForm, InviteImportForm
from .invitations.services import (
    Invitee,
    invitation_create,
    invitation_resend,
    invitation_withdraw,
    invitations_import,
)
from .lifecycle import admin as lifecycle_admin  # noqa: F401  (the "Account status" section)
from .lifecycle.services import ACCOUNT_STATES, account_state, users_in_state
from .mfa import admin as mfa_admin  # noqa: F401  (authenticator apps and recovery codes)
from .mfa import policy, recovery_codes
from .models import GroupSettings, Invitation, LoginFailure, LoginSession, User
from .services import (
    user_attributes_set,
    user_device,
    user_device_remove,
    user_device_rename,
    user_mfa_reset,
    user_password_reset_send,
)
from .sessions import login_sessions_end, login_sessions_live, user_agent_summary
from .signup import admin as signup_admin  # noqa: F401  (sign-ups, approved or rejected)
from .throttling import throttle_clear
from .user_page import USER_PAGE_SECTIONS, UserPageSection
from .verification import admin as verification_admin  # noqa: F401  (the e-mail section)

# The account states (accounts/lifecycle/services.py) in words for the admin's list and filter.
STATE_LABELS = {
    "active": _("active"),
    "deactivated": _("deactivated"),
    "awaiting erasure": _("awaiting erasure"),
    "erased": _("erased"),
}


class AccountStateFilter(admin.SimpleListFilter):
    title = _("account status")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(state, capfirst(STATE_LABELS.get(state, state))) for state in ACCOUNT_STATES]

    def queryset(self, request, queryset):
        state = self.value()
        return users_in_state(queryset, state) if state in ACCOUNT_STATES else queryset


# Plain words for the fields whose model help speaks in standards (the profile page's own
# wording, accounts/forms.py, where the person edits the same fields).
USER_FORM_HELP = {
    "username": _("What they type to sign in: letters, digits and @ . + - _ only."),
    "preferred_username": _("The username apps see; left empty, apps see the one they sign in with."),
    "phone_number": _("With the country code, e.g. +44 20 7946 0000."),
    "zoneinfo": _("Apps use it to show them times in their local time."),
    "locale": _("The language apps should use with them."),
    "is_active": _("They can sign in. The Danger zone above deactivates with an audit record and says more."),
    "is_staff": _("They can sign in to this administration site."),
    "is_superuser": _("They may do everything here, whatever their groups allow."),
    "groups": _("Their groups decide what they may do here and which account policy applies to them."),
    "user_permissions": _("Permissions given to this person alone, on top of their groups'."),
}


class UserForm(UserChangeForm):
    """Django's user form without the password: staff never see or set one (a reset link does)."""

    password = None  # type: ignore[assignment]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, text in USER_FORM_HELP.items():
            if name in self.fields:
                self.fields[name].help_text = text
        # The lists the person chooses from on their own profile page (one source: accounts/forms.py).
        if "zoneinfo" in self.fields:
            self.fields["zoneinfo"].widget = forms.Select(choices=time_zone_choices(self.instance.zoneinfo))
        if "locale" in self.fields:
            self.fields["locale"].widget = forms.Select(choices=language_choices(self.instance.locale))


class UserAddForm(forms.ModelForm):
    """A new account without a password: the person chooses one through a reset or invitation link."""

    class Meta:
        model = User
        fields = ("username", "email", "first_name", "last_name")
        help_texts = {
            "username": USER_FORM_HELP["username"],
            "email": _("Send them a password reset link from their page once the account exists."),
        }

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
            self.save_m2m()
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserForm
    add_form = UserAddForm
    add_form_template = "admin/accounts/user/add_form.html"
    add_fieldsets = ((None, {"fields": ("username", "email", "first_name", "last_name")}),)
    list_display = ("username", "email", "first_name", "last_name", "email_verified", "status", "is_staff")
    list_filter = (AccountStateFilter, "is_staff", "is_superuser", "email_verified", "groups")
    search_fields = ("username", "email", "first_name", "last_name", "subject")
    # email_verified changes only through the e-mail section's buttons (audited; verification/admin.py).
    readonly_fields = ("subject", "email_verified", "updated_at", "last_login", "date_joined")
    # Profile links typed without a scheme are https (Django 6's default; 5.2 warns otherwise).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # No "password" field: the page's "Send a password reset link" is the only way (README).
    fieldsets = (
        (None, {"fields": ("username", "subject")}),
        (_("Name"), {"fields": ("first_name", "middle_name", "last_name", "nickname", "preferred_username")}),
        (_("Contact"), {"fields": ("email", "email_verified", "phone_number", "phone_number_verified")}),
        (
            _("Profile"),
            {"fields": ("profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale")},
        ),
        (
            _("Address"),
            {
                "fields": (
                    "address_formatted",
                    "address_street_address",
                    "address_locality",
                    "address_region",
                    "address_postal_code",
                    "address_country",
                )
            },
        ),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined", "updated_at")}),
    )
    # Permissions one by one: for superusers only, folded away (groups are the usual way).
    superuser_fieldsets = (
        (
            _("Advanced: permissions given one by one"),
            {"classes": ("collapse",), "fields": ("user_permissions",)},
        ),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        if request.user.is_superuser:
            return (*self.fieldsets, *self.superuser_fieldsets)
        return self.fieldsets

    def user_change_password(self, request, id, form_url=""):
        """Refuse Django's "set a password" page: staff never choose a person's password."""
        raise Http404("Staff cannot set a password; send a password reset link from the user's page.")

    def save_model(self, request, obj, form, change):
        # An address staff type in is one nobody has shown they receive mail at.
        if change and "email" in form.changed_data:
            obj.email_verified = False
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            # The checkbox is the same act as the Account status buttons (post_save does the
            # sign-out and revocation either way), so it is audited the same.
            audit_record(
                action=Action.ACCOUNT_REACTIVATE if obj.is_active else Action.ACCOUNT_DEACTIVATE,
                target=obj,
                actor=request.user,
                detail={"via": "user form"},
                request=request,
            )

    @admin.display(description=_("status"))
    def status(self, obj: User) -> str:
        # Active, deactivated, awaiting erasure or erased (accounts/lifecycle/services.py).
        state = account_state(obj)
        if state == "awaiting erasure":
            return gettext("awaiting erasure on %(date)s") % {"date": f"{obj.erase_after:%Y-%m-%d}"}
        return str(STATE_LABELS.get(state, state))

    def has_change_permission(self, request, obj=None):
        # An erased account is a tombstone: nothing to edit, and no one to restore.
        return super().has_change_permission(request, obj) and (obj is None or obj.erased is None)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and obj.erase_after is not None:
            # Awaiting erasure: "Restore" in the Account status section brings it back (audited).
            return (*readonly, "is_active")
        return readonly

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        if user is not None:
            sections = sorted(USER_PAGE_SECTIONS, key=lambda section: section.order)
            drawn = [(s.apart, {"template": s.template, "data": s.context(user)}) for s in sections]
            extra_context = {
                **(extra_context or {}),
                "user_sections": [section for apart, section in drawn if not apart],
                "user_sections_apart": [section for apart, section in drawn if apart],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        act = path(
            "<path:object_id>/act/<slug:action>/",
            self.admin_site.admin_view(require_POST(self.act_view)),
            name="accounts_user_act",
        )
        return [act, *super().get_urls()]

    def act_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Run one of the user page's actions (revoke tokens, reset MFA, …) and go back to the page."""
        user = self.get_object(request, object_id)
        handler = next((s.actions[action] for s in USER_PAGE_SECTIONS if action in s.actions), None)
        if user is None or handler is None:
            raise Http404("No such user or action.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        if user.is_superuser and not request.user.is_superuser:
            # Resetting a superuser's second factor or tokens is for superusers only.
            raise PermissionDenied
        try:
            result = handler(request, user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            # An action may answer itself (a download); otherwise its message is shown.
            if isinstance(result, HttpResponse):
                return result
            messages.success(request, result)
        return redirect(reverse("admin:accounts_user_change", args=[user.pk]) + "#person")


def _mfa_context(user: User) -> dict:
    devices = [
        {
            "device": device,
            "kind": "passkey or security key"
            if isinstance(device, WebAuthnCredential)
            else "authenticator app",
        }
        for device in policy.primary_devices(user)
    ]
    return {"devices": devices, "recovery_codes": recovery_codes.recovery_codes_remaining(user)}


def _device_rename(request: HttpRequest, user: User) -> str:
    device = user_device(user=user, persistent_id=request.POST.get("device", ""))
    old = device.name
    user_device_rename(user=user, device=device, name=request.POST.get("name", ""), actor=request.user)
    return gettext("Renamed “%(old)s” to “%(new)s”.") % {"old": old, "new": device.name}


def _device_remove(request: HttpRequest, user: User) -> str:
    device = user_device(user=user, persistent_id=request.POST.get("device", ""))
    user_device_remove(user=user, device=device, actor=request.user)
    return gettext("Removed %(username)s’s “%(name)s”.") % {
        "username": user.get_username(),
        "name": device.name,
    }


def _mfa_reset(request: HttpRequest, user: User) -> str:
    count = user_mfa_reset(user=user, actor=request.user)
    return ngettext(
        "Removed %(count)d authenticator and the recovery codes of %(username)s.",
        "Removed %(count)d authenticators and the recovery codes of %(username)s.",
        count,
    ) % {"count": count, "username": user.get_username()}


def _password_reset_send(request: HttpRequest, user: User) -> str:
    user_password_reset_send(user=user, actor=request.user)
    return gettext("Sent a password reset link to %(email)s.") % {"email": user.email}


def _invitation_resend(request: HttpRequest, user: User) -> str:
    invitation = user.invitations.order_by("-created").first()
    if invitation is None:
        raise ValidationError(_("This user was not invited."))
    invitation_resend(invitation=invitation, actor=request.user)
    return gettext("Sent %(email)s a new invitation link; the old one no longer works.") % {
        "email": user.email
    }


def _sessions_context(user: User) -> dict:
    sessions = login_sessions_live(user=user)
    for session in sessions:
        session.device = user_agent_summary(session.user_agent)
    return {"sessions": sessions}


def _session_end(request: HttpRequest, user: User) -> str:
    sid = request.POST.get("sid", "")
    sessions = LoginSession.objects.filter(user=user)
    if sid != "all":
        sessions = sessions.filter(sid=sid)
    ended = login_sessions_end(
        sessions=sessions, reason=LoginSession.EndReason.ENDED_BY_STAFF, actor=request.user
    )
    return ngettext(
        "Ended %(count)d session of %(username)s; their apps are being told.",
        "Ended %(count)d sessions of %(username)s; their apps are being told.",
        ended,
    ) % {"count": ended, "username": user.get_username()}


def _activity_context(user: User) -> dict:
    events = events_about(user).order_by("-created")
    return {"events": list(events[:10]), "search": user.get_username()}


def _attributes_context(user: User) -> dict:
    return {"form": AttributesForm(stored=user.attributes or {})} if attributes_defined() else {}


def _attributes_save(request: HttpRequest, user: User) -> str:
    form = AttributesForm(request.POST, stored=user.attributes or {})
    if not form.is_valid():
        # Shown as the page's error message, each with the attribute it is about.
        raise ValidationError(
            [
                f"{form.fields[name].label}: {' '.join(map(str, errors))}"
                for name, errors in form.errors.items()
            ]
        )
    changed = user_attributes_set(user=user, attributes=form.attributes(), actor=request.user)
    return ngettext(
        "Saved %(count)d changed attribute.", "Saved %(count)d changed attributes.", len(changed)
    ) % {"count": len(changed)}


USER_PAGE_SECTIONS.extend(
    [
        UserPageSection(
            template="admin/accounts/user/_mfa.html",
            context=_mfa_context,
            actions={
                "device_rename": _device_rename,
                "device_remove": _device_remove,
                "mfa_reset": _mfa_reset,
            },
            order=10,
        ),
        UserPageSection(
            template="admin/accounts/user/_account.html",
            context=lambda user: {
                "state": account_state(user),
                "has_password": user.has_usable_password(),
                "invitation": user.invitations.order_by("-created").first(),
            },
            actions={"password_reset_send": _password_reset_send, "invitation_resend": _invitation_resend},
            order=20,
        ),
        UserPageSection(
            template="admin/accounts/user/_sessions.html",
            context=_sessions_context,
            actions={"session_end": _session_end},
            order=30,
        ),
        UserPageSection(
            template="admin/accounts/user/_attributes.html",
            context=_attributes_context,
            actions={"attributes_save": _attributes_save},
            order=40,
        ),
        UserPageSection(template="admin/accounts/user/_activity.html", context=_activity_context, order=90),
        # Last and apart: deactivating and erasing (their actions are the Account status section's,
        # accounts/lifecycle/admin.py).
        UserPageSection(
            template="admin/accounts/user/_danger.html",
            context=lambda user: {
                "state": account_state(user),
                "grace_days": settings.PORCHLIGHT["ACCOUNT_DELETION_GRACE_DAYS"],
            },
            order=100,
            apart=True,
        ),
    ]
)


class LockedFilter(admin.SimpleListFilter):
    title = _("locked")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(locked_until__gt=timezone.now())
        if self.value() == "no":
            return queryset.exclude(locked_until__gt=timezone.now())
        return queryset


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Failed logins and lockouts: read-only; deleting a record (or "Clear selected") unlocks it."""

    list_display = ("key", "scope", "failures", "locked", "locked_until", "lockouts", "last_failure")
    list_filter = (LockedFilter, "scope")
    search_fields = ("key",)
    actions = ["clear_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        # "Clear selected" does the same, with an audit record and a plain message.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, obj: LoginFailure) -> bool:
        return obj.locked_until is not None and obj.locked_until > timezone.now()

    def delete_model(self, request, obj):
        throttle_clear(records=LoginFailure.objects.filter(pk=obj.pk), actor=request.user)

    def delete_queryset(self, request, queryset):
        throttle_clear(records=queryset, actor=request.user)

    @admin.action(description=_("Clear selected (lift their lockouts now)"), permissions=["delete"])
    def clear_selected(self, request, queryset):
        count = throttle_clear(records=queryset, actor=request.user)
        messages.success(
            request,
            ngettext(
                "Cleared %(count)d record; those accounts and addresses can sign in again.",
                "Cleared %(count)d records; those accounts and addresses can sign in again.",
                count,
            )
            % {"count": count},
        )


class GroupSettingsInline(admin.StackedInline):
    model = GroupSettings
    can_delete = False
    verbose_name_plural = _("account policy")


# The group page carries its members' account policy (e.g. "require multi-factor authentication").
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    inlines = [GroupSettingsInline]


class InvitationStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", _("Pending")), ("accepted", _("Accepted")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "pending":
            return queryset.filter(accepted__isnull=True, expires__gt=now)
        if self.value() == "accepted":
            return queryset.filter(accepted__isnull=False)
        if self.value() == "expired":
            return queryset.filter(accepted__isnull=True, expires__lte=now)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """People invited by e-mail: invite one or import many; resend or withdraw pending ones."""

    list_display = ("email", "user", "status", "created_by", "created", "sent", "expires")
    list_select_related = ("user", "created_by")
    list_filter = (InvitationStatusFilter,)
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name")
    fields = ("user", "created_by", "created", "sent", "expires", "accepted")
    readonly_fields = fields
    actions = ["resend", "withdraw"]
    change_list_template = "admin/accounts/invitation/change_list.html"

    @admin.display(description=_("e-mail address"), ordering="user__email")
    def email(self, obj: Invitation) -> str:
        return obj.user.email

    @admin.display(description=_("status"))
    def status(self, obj: Invitation) -> str:
        if obj.accepted:
            return "accepted"
        return "pending" if obj.is_pending() else "expired"

    def has_add_permission(self, request):
        # Inviting someone makes their account.
        return super().has_add_permission(request) and request.user.has_perm("accounts.add_user")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting the row would leave an account nobody can sign in to; "withdraw" removes both.
        return False

    def get_urls(self):
        importer = path(
            "import/", self.admin_site.admin_view(self.import_view), name="accounts_invitation_import"
        )
        return [importer, *super().get_urls()]

    def _page(self, request, template: str, **context) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts, **context}
        return TemplateResponse(request, template, context)

    def add_view(self, request, form_url="", extra_context=None):
        """Invite one person: their account is made and the link mailed at once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = InviteForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                invitation = invitation_create(invitee=Invitee(**form.cleaned_data), created_by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    gettext("Invited %(email)s: the link works until %(expires)s UTC.")
                    % {"email": invitation.user.email, "expires": f"{invitation.expires:%d %b %Y %H:%M}"},
                )
                return redirect("admin:accounts_invitation_changelist")
        return self._page(
            request,
            "admin/accounts/invitation/invite.html",
            form=form,
            title=gettext("Invite someone"),
            lifetime_days=settings.PORCHLIGHT["INVITATION_LIFETIME"] // 86400,
        )

    def import_view(self, request):
        """Invite everyone in a CSV file, or no one if a line is wrong."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = InviteImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                invited = invitations_import(text=form.cleaned_data["file"], created_by=request.user)
            except ValidationError as error:
                form.add_error("file", error)
            else:
                messages.success(
                    request,
                    ngettext("Invited %(count)d person.", "Invited %(count)d people.", len(invited))
                    % {"count": len(invited)},
                )
                return redirect("admin:accounts_invitation_changelist")
        return self._page(
            request,
            "admin/accounts/invitation/import.html",
            form=form,
            title=gettext("Invite people from a CSV file"),
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Resend: mail a new link (the old one stops working)"), permissions=["add"])
    def resend(self, request, queryset):
        self._each(request, queryset, invitation_resend, gettext_noop("Sent a new link to %(email)s."))

    @admin.action(
        description=_("Withdraw: the link stops working and the unused account is removed"),
        permissions=["add"],
    )
    def withdraw(self, request, queryset):
        self._each(
            request, queryset, invitation_withdraw, gettext_noop("Withdrew the invitation of %(email)s.")
        )

    def _each(self, request, queryset, step, done: str) -> None:
        for invitation in queryset.select_related("user"):
            email = invitation.user.email
            try:
                step(invitation=invitation, actor=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, gettext(done) % {"email": email})


@admin.register(LoginSession)
class LoginSessionAdmin(admin.ModelAdmin):
    """Every sign-in session; staff end them here (audited, and the apps are told)."""

    list_display = ("user", "created", "last_seen", "expires", "ended", "end_reason", "ip")
    list_filter = ("end_reason", ("ended", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__email", "sid", "ip")
    fields = (
        "user",
        "sid",
        "created",
        "last_seen",
        "expires",
        "ended",
        "end_reason",
        "amr",
        "ip",
        "user_agent",
        "apps",
    )
    readonly_fields = fields
    actions = ["end_sessions"]

    def has_add_permission(self, request):
        return False

    def get_actions(self, request):
        # A session is ended (its apps told), not deleted in bulk without a word to them.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("apps used"))
    def apps(self, obj: LoginSession) -> str:
        return ", ".join(link.client.name for link in obj.client_links.select_related("client")) or "—"

    @admin.action(description=_("End the selected sessions (sign those browsers out, tell their apps)"))
    def end_sessions(self, request, queryset):
        ended = login_sessions_end(
            sessions=queryset, reason=LoginSession.EndReason.ENDED_BY_STAFF, actor=request.user
        )
        messages.success(
            request,
            ngettext("Ended %(count)d session.", "Ended %(count)d sessions.", ended) % {"count": ended},
        )
