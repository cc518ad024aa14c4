"""Login, logout and the signed-in landing page."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = False


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"


@login_required
def home(request):
    return render(request, "accounts/home.html")


def logged_out(request):
    return render(request, "accounts/logged_out.html")
