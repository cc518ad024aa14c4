from django.urls import path

from . import views

app_name = "signup"

urlpatterns = [
    path("", views.signup_start, name="start"),
    path("sent/", views.signup_sent, name="sent"),
    path("verify/<uidb64>/<token>/", views.signup_verify_page, name="verify"),
]
