"""Login, logout and the signed-in landing page."""

from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.generic import UpdateView

from .authentication import get_auth_context, record_authentication
from .forms import LoginForm, PasswordChangeForm, PasswordResetForm, ProfileForm
from .mfa import flows as mfa_flows
from .mfa import policy as mfa_policy
from .mfa import views as mfa_views
from .sessions import password_change_record


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = False

    def form_valid(self, form):
        user = form.get_user()
        if mfa_policy.has_second_factor(user):
            # The password is right; the user is signed in only after the second factor.
            mfa_flows.login_pending_start(self.request, user=user, first_factors=["pwd"])
            return redirect(mfa_views.authenticate_url(self.get_success_url()))
        response = super().form_valid(form)
        # Only this view (and the second-factor and passkey steps) record how the user signed
        # in; a session made by any other login() has no context and counts as signed out.
        record_authentication(self.request, ["pwd"])
        return response


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"


@login_required
def home(request):
    return render(request, "accounts/home.html")


def logged_out(request):
    return render(request, "accounts/logged_out.html")


class ProfileView(LoginRequiredMixin, SuccessMessageMixin, UpdateView):
    form_class = ProfileForm
    template_name = "accounts/profile.html"
    success_url = reverse_lazy("accounts:profile")
    success_message = "Your profile was saved."

    def get_object(self, queryset=None):
        return self.request.user


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:home")
    success_message = "Your password was changed."

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
