"""/scim/v2/ (RFC 7644 §3.2): the base URL a provisioning client is given, and what lies under it."""

from django.urls import path

from . import views

app_name = "scim"

urlpatterns = [
    path("Users", views.UsersView.as_view(), name="users"),
    path("Users/<str:pk>", views.UsersView.as_view(), name="user"),
    path("Groups", views.GroupsView.as_view(), name="groups"),
    path("Groups/<str:pk>", views.GroupsView.as_view(), name="group"),
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="service-provider-config"),
    path("ResourceTypes", views.ResourceTypesView.as_view(), name="resource-types"),
    path("ResourceTypes/<str:name>", views.ResourceTypesView.as_view(), name="resource-type"),
    path("Schemas", views.SchemasView.as_view(), name="schemas"),
    path("Schemas/<str:name>", views.SchemasView.as_view(), name="schema"),
    # Last: every other path answers a SCIM error rather than the site's 404 page.
    path("<path:rest>", views.ElsewhereView.as_view(), name="elsewhere"),
]
