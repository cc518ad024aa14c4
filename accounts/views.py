"""Login, logout and the signed-in landing page."""

from urllib.parse import urlencode, urlsplit

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import UpdateView
from django.views.i18n import set_language

from audit.actions import Action
from audit.services import audit_record

from .authentication import get_auth_context, password_managed_elsewhere
from .forms import LoginForm, PasswordChangeForm, PasswordResetForm, ProfileForm, username_hint
from .languages import ui_locales_forget
from .mfa import flows as mfa_flows
from .mfa import policy as mfa_policy
from .mfa import views as mfa_views
from .models import LoginSession
from .recent_auth import recent_authentication_required
from .security_notices import Change, security_notice_send
from .sessions import (
    login_session_current,
    login_sessions_end,
    login_sessions_live,
    password_change_record,
    record_authentication,
    signed_out_page_prepare,
    signed_out_page_take,
    user_agent_summary,
)
from .signup import policy as signup_policy
from .verification.views import email_verification_request
from .visibility import apps_seeing


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = False

    def get_initial(self):
        # OIDC Core 1.0 §3.1.2.1 login_hint, passed on by the authorization endpoint: it only
        # fills the field, so the page is the same whether or not such an account exists.
        initial = super().get_initial()
        hint = username_hint(self.request.GET.get("login_hint"))
        if hint:
            initial["username"] = hint
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if signup_policy.signup_open():
            # Sign-up continues where sign-in would have: the app's request waits in ``next``.
            next_url = context.get("next") or ""
            query = f"?{urlencode({'next': next_url})}" if next_url else ""
            context["signup_url"] = reverse("accounts:signup:start") + query
        return context

    def form_valid(self, form):
        user = form.get_user()
        if mfa_policy.has_second_factor(user):
            # The password is right; the user is signed in only after the second factor.
            mfa_flows.login_pending_start(self.request, user=user, first_factors=["pwd"])
            return redirect(mfa_views.authenticate_url(self.get_success_url()))
        response = super().form_valid(form)
        # Only this view (and the second-factor and passkey steps) record how the user signed
        # in; a session made by any other login() has no context and counts as signed out.
        context = record_authentication(self.request, ["pwd"])
        audit_record(
            action=Action.LOGIN_SUCCESS,
            target=user,
            actor=user,
            detail={"amr": context.amr, "sid": context.session_id},
            request=self.request,
        )
        return response


class LogoutView(View):
    """Ask "sign out?" (GET); sign out (POST)."""

    def get(self, request):
        if not request.user.is_authenticated:
            return redirect("accounts:login")
        return render(request, "accounts/logout_confirm.html")

    def post(self, request):
        session = login_session_current(request)
        logout(request)
        if signed_out_page_prepare(request, session=session):
            return redirect("accounts:logged-out")
        return redirect(settings.LOGOUT_REDIRECT_URL)


@login_required
def home(request):
    context = get_auth_context(request)
    sessions = login_sessions_live(user=request.user)
    for session in sessions:
        session.device = user_agent_summary(session.user_agent)
        session.is_current = context is not None and session.sid == context.session_id
    return render(request, "accounts/home.html", {"sessions": sessions})


@login_required
@require_POST
def sessions_end(request):
    """End one of the user's other sessions, or (``sid`` = "others") all of them."""
    context = get_auth_context(request)
    current = context.session_id if context else ""
    sid = request.POST.get("sid", "")
    mine = LoginSession.objects.filter(user=request.user).exclude(sid=current)
    if sid != "others":
        mine = mine.filter(sid=sid)
    ended = login_sessions_end(sessions=mine, reason=LoginSession.EndReason.ENDED_BY_USER, actor=request.user)
    messages.success(
        request,
        ngettext("Signed out of %(count)d other session.", "Signed out of %(count)d other sessions.", ended)
        % {"count": ended},
    )
    return redirect("accounts:home")


@never_cache
def logged_out(request):
    signed_out = signed_out_page_take(request)
    return frames_allow(
        request, render(request, "accounts/logged_out.html", signed_out), signed_out["frames"]
    )


def frames_allow(request: HttpRequest, response: HttpResponse, frames: list[str]) -> HttpResponseBase:
    """Let ``response`` to ``request`` frame the apps' logout pages ``frames``, and only those; return it."""
    if frames:
        # Front-Channel Logout 1.0 §4: the apps' logout pages are framed here, and only here.
        origins = {"{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in frames}
        # django-csp's public way to change one response's policy is its view decorator.
        return csp_update({"frame-src": sorted(origins)})(lambda request: response)(request)
    return response


class ProfileView(LoginRequiredMixin, SuccessMessageMixin, UpdateView):
    """The profile in sections, each its own form with its own Save, saving only its fields."""

    form_class = ProfileForm
    template_name = "accounts/profile.html"
    success_message = gettext_lazy("Your profile was saved.")

    def get_object(self, queryset=None):
        return self.request.user

    def posted_section(self) -> str | None:
        """Return the section the POST saves; None (the whole profile) when it names none."""
        if self.request.method != "POST":
            return None
        section = self.request.POST.get("section", "")
        return section if section in dict(ProfileForm.sections()) else None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request, "section": self.posted_section()}

    def get_success_url(self) -> str:
        section = self.posted_section()
        return reverse("accounts:profile") + (f"#section-{section}" if section else "")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        posted, posted_form = self.posted_section(), context["form"]
        seen = apps_seeing(self.request.user)
        sections = []
        for slug, title in ProfileForm.sections():
            # The section just posted keeps what was typed and its errors; the others show what is stored.
            if slug == posted or (posted is None and posted_form.is_bound):
                form = posted_form
            else:
                form = ProfileForm(instance=self.request.user, request=self.request, section=slug)
            fields = [form[name] for name in form.section_fields(slug)]
            if not fields:
                continue  # "More about you" when staff defined no attributes
            readers = [seen.get(field.name, []) for field in fields]
            # Said once for the group when every field in it goes to the same apps.
            shared = readers[0] if all(names == readers[0] for names in readers) else None
            sections.append(
                {
                    "slug": slug,
                    "title": title,
                    "form": form,
                    "seen_by": shared,
                    "fields": list(zip(fields, readers, strict=True)),
                }
            )
        context["sections"] = sections
        if posted_form.has_error("email", "reauthentication_required"):
            context["reauthenticate_url"] = (
                f"{reverse('accounts:login')}?{urlencode({'next': self.request.path + '#section-contact'})}"
            )
        return context

    def form_valid(self, form):
        old_email = form.initial.get("email") or ""
        response = super().form_valid(form)
        if "email" in form.changed_data:
            # Told at the old address: the new one may be an attacker's.
            security_notice_send(
                user=form.instance,
                change=Change.EMAIL_CHANGED,
                detail=_("Password reset links now go to %(address)s.")
                % {"address": form.instance.email or _("no address")},
                to=old_email,
            )
            if form.instance.email:
                # The link is made after the save, so it covers the new address (and nothing older).
                email_verification_request(self.request)
        return response


@method_decorator(recent_authentication_required, name="dispatch")
class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:home")
    success_message = gettext_lazy("Your password was changed.")

    def dispatch(self, request, *args, **kwargs):
        # A directory account's password is the directory's: changed there, never here.
        managed = password_managed_elsewhere(request.user) if request.user.is_authenticated else ""
        if managed:
            return render(request, "accounts/password_managed.html", {"message": managed})
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        # RFC 9700 §4.14.2 / OIDC Core §11: a new password ends what the old one let in - every
        # other sign-in session with its tokens, and offline access - and, if the user
        # chooses, this session too.
        keep = form.cleaned_data["keep_session"]
        context = get_auth_context(self.request)
        response = super().form_valid(form)
        password_change_record(
            request=self.request, user=form.user, keep_sid=context.session_id if keep and context else ""
        )
        if not keep:
            logout(self.request)
            return redirect("accounts:login")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        # Whoever knew the old password is out: every session ends (RFC 9700 §4.14.2).
        password_change_record(request=self.request, user=form.user)
        return response


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (the switcher's choice, in a cookie), which also outranks an app's
    ``ui_locales`` for the rest of the request the person is in (accounts/languages.py)."""
    ui_locales_forget(request)
    return set_language(request)
