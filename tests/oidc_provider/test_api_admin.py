"""Staff register APIs with their scopes and roles, allow clients scopes and give roles, in the admin."""

from audit.models import AuditEvent
from oidc_provider.apis import api_save
from oidc_provider.models import Api, ApiScope, Client, Role
from tests.admin_forms import change_client_in_admin

API = "https://orders.example.com/"


def inline_management(prefix: str, total: int) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def add_api(staff, **fields):
    data = {
        "identifier": API,
        "name": "Orders",
        "format": "jwt",
        "lifetime": "",
        "algorithm": "RS256",
        "token_claims": ["email", "groups"],
        **inline_management("scopes", 2),
        "scopes-0-name": "read:orders",
        "scopes-0-description": "See your orders",
        "scopes-1-name": "write:orders",
        "scopes-1-description": "Place orders for you",
        **inline_management("roles", 1),
        "roles-0-name": "clerk",
        "roles-0-description": "Handles orders",
        **fields,
    }
    return staff.post("/admin/oidc_provider/api/add/", data, follow=True)


def test_admin_api_add_with_scopes_and_roles_is_audited(staff):
    response = add_api(staff)
    assert response.status_code == 200
    api = Api.objects.get(identifier=API)
    assert api.token_claims == ["email", "groups"]
    assert sorted(api.scopes.values_list("name", flat=True)) == ["read:orders", "write:orders"]
    assert list(api.roles.values_list("name", flat=True)) == ["clerk"]
    event = AuditEvent.objects.get(action="api.create")
    assert event.detail["scopes"] == {
        "read:orders": "See your orders",
        "write:orders": "Place orders for you",
    }
    listed = staff.get("/admin/oidc_provider/api/").content.decode()
    assert "read:orders write:orders" in listed


def test_admin_api_refuses_bad_identifier_and_oidc_scope_names(staff):
    response = add_api(staff, identifier="https://orders.example.com/#part", **{"scopes-0-name": "openid"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "absolute URI" in page and "OpenID Connect scope" in page
    assert not Api.objects.exists() and not ApiScope.objects.exists()


def test_admin_client_page_allows_api_scopes(staff, make_client):
    add_api(staff)
    shop = make_client(name="Shop")
    page = staff.get(f"/admin/oidc_provider/client/{shop.model.pk}/change/").content.decode()
    assert "read:orders" in page and 'name="allowed_scopes"' in page
    scope = ApiScope.objects.get(name="read:orders")
    change_client_in_admin(staff, shop.model, allowed_scopes=[str(scope.pk)])
    assert list(Client.objects.get(pk=shop.model.pk).allowed_scopes.all()) == [scope]
    event = AuditEvent.objects.filter(action="client.change").latest("pk")
    assert "allowed_scopes" in event.detail["changed"]


def test_admin_role_gives_users_and_groups_and_is_audited(staff, user):
    api = api_save(api=Api(identifier=API, name="Orders"), created=True)
    group = user.groups.create(name="buyers")
    response = staff.post(
        "/admin/oidc_provider/role/add/",
        {
            "name": "buyer",
            "description": "Buys",
            "api": str(api.pk),
            "client": "",
            "users": [str(user.pk)],
            "groups": [str(group.pk)],
        },
        follow=True,
    )
    assert response.status_code == 200
    role = Role.objects.get(name="buyer")
    assert list(role.users.all()) == [user] and list(role.groups.all()) == [group]
    assert AuditEvent.objects.get(action="role.change").detail["users"] == ["alice"]
    staff.post(f"/admin/oidc_provider/role/{role.pk}/delete/", {"post": "yes"})
    assert not Role.objects.exists()
    assert AuditEvent.objects.filter(action="role.delete").count() == 1


def test_admin_role_belongs_to_one_owner(staff, make_client):
    api = api_save(api=Api(identifier=API, name="Orders"), created=True)
    shop = make_client(name="Shop")
    response = staff.post(
        "/admin/oidc_provider/role/add/",
        {"name": "both", "api": str(api.pk), "client": str(shop.model.pk)},
    )
    assert response.status_code == 200
    assert "not both" in response.content.decode()
    assert not Role.objects.exists()


def test_admin_api_delete_is_audited(staff):
    add_api(staff)
    api = Api.objects.get(identifier=API)
    staff.post(f"/admin/oidc_provider/api/{api.pk}/delete/", {"post": "yes"})
    assert not Api.objects.exists() and not ApiScope.objects.exists()
    assert AuditEvent.objects.get(action="api.delete").detail["identifier"] == API
