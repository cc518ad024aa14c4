"""Sign-ups in the admin: who signed up, where each stands, and approving or rejecting them (audited)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

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
