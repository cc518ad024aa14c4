"""Sign-ups in the admin: who signed up, where each stands, and approving or rejecting them (audited)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import User
from ..user_page import USER_PAGE_SECTIONS, UserPageSection
from .models import SignUp
from .services import signup_approve, signup_reject


@admin.register(SignUp)
class SignUpAdmin(admin.ModelAdmin):
    """Accounts people made themselves; with PORCHLIGHT_SIGNUP_REVIEW, those waiting for approval."""

    list_display = ("email", "user", "status", "created", "verified", "terms_version", "ip")
    list_select_related = ("user",)
    list_filter = ("status",)
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name")
    fields = (
        "user",
        "status",
        "created",
        "verified",
        "reviewed",
        "reviewed_by",
        "terms_version",
        "terms_accepted",
        "ip",
    )
    readonly_fields = fields
    actions = ["approve", "reject"]

    @admin.display(description=_("e-mail address"), ordering="user__email")
    def email(self, obj: SignUp) -> str:
        return obj.user.email

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Read-only, but approving needs this permission on the account it activates.
        return request.user.has_perm("accounts.change_user")

    def has_delete_permission(self, request, obj=None):
        # Deleting the row would leave an account nobody can confirm; "reject" removes both.
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(
        description=_("Approve: the account can sign in (its owner is told)"), permissions=["change"]
    )
    def approve(self, request, queryset):
        self._each(request, queryset, signup_approve, _("Approved %(email)s."))

    @admin.action(description=_("Reject: the account is deleted"), permissions=["change"])
    def reject(self, request, queryset):
        self._each(request, queryset, signup_reject, _("Rejected %(email)s: the account is deleted."))

    def _each(self, request, queryset, step, done) -> None:
        for signup in queryset.select_related("user"):
            email = signup.user.email
            try:
                step(signup=signup, actor=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, done % {"email": email})


def _signup_of(user: User) -> SignUp:
    signup = SignUp.objects.filter(user=user).first()
    if signup is None:
        raise ValidationError(gettext("%(user)s did not sign up: staff made the account.") % {"user": user})
    return signup


def _approve(request: HttpRequest, user: User) -> str:
    signup_approve(signup=_signup_of(user), actor=request.user)
    return gettext("Approved the sign-up of %(email)s: the account can sign in.") % {"email": user.email}


def _reject(request: HttpRequest, user: User) -> str:
    email = user.email
    signup_reject(signup=_signup_of(user), actor=request.user)
    return gettext("Rejected the sign-up of %(email)s: the account is deleted.") % {"email": email}


# A person who signed up: when, from where, the terms accepted, and approve or reject while it waits.
USER_PAGE_SECTIONS.append(
    UserPageSection(
        template="admin/accounts/user/_signup.html",
        context=lambda user: {"signup": SignUp.objects.filter(user=user).first()},
        actions={"signup_approve": _approve, "signup_reject": _reject},
        order=24,
    )
)
