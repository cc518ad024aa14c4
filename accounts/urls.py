from django.urls import include, path
from django.views.generic import TemplateView

from . import views
from .export import views as export_views
from .lifecycle import views as lifecycle_views
from .verification import views as verification_views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logged-out/", views.logged_out, name="logged-out"),
    path("sessions/end/", views.sessions_end, name="sessions-end"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("email/verify/send/", verification_views.email_verification_resend, name="email-verify-send"),
    path("email/verify/<uidb64>/<token>/", verification_views.EmailVerifyView.as_view(), name="email-verify"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/sent/",
        TemplateView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/done/",
        TemplateView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path("data/", export_views.data_export_page, name="data-export"),
    path("data/download/", export_views.data_export_download, name="data-export-download"),
    path("delete/", lifecycle_views.account_delete, name="account-delete"),
    path("closed/", lifecycle_views.account_closed, name="account-closed"),
    path("mfa/", include("accounts.mfa.urls")),
    path("signup/", include("accounts.signup.urls")),
    path("", views.home, name="home"),
]
