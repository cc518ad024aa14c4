from django.urls import path

from . import views

app_name = "upstream"

urlpatterns = [
    path("link/", views.link, name="link"),
    path("identities/<int:pk>/unlink/", views.unlink, name="unlink"),
    path("<slug:slug>/start/", views.start, name="start"),
    path("<slug:slug>/callback/", views.callback, name="callback"),
    path("<slug:slug>/backchannel-logout/", views.backchannel_logout, name="backchannel-logout"),
]
