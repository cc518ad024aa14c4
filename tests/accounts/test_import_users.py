"""manage.py importusers: accounts from another provider keep their sub, and their password when it can."""

import io
import json
import sys

import argon2
import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from tests.conftest import PASSWORD, authorize, exchange, sign_in, validate_id_token

OLD_SUB = "248289761001"


def _import(tmp_path, document, *options: str) -> str:
    path = tmp_path / "users.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("importusers", str(path), *options, stdout=out)
    return out.getvalue()


def _refused(tmp_path, document, *options: str) -> str:
    with pytest.raises(CommandError) as refused:
        _import(tmp_path, document, *options)
    return str(refused.value)


def _signs_in(browser, username: str, password: str) -> bool:
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def test_import_users_keeps_sub_and_django_hash_through_login_and_tokens(
    tmp_path, browser, rp, client, django_user_model
):
    encoded = make_password(PASSWORD, hasher="pbkdf2_sha256")
    output = _import(
        tmp_path,
        [
            {
                "sub": OLD_SUB,
                "username": "jane",
                "email": "jane@example.com",
                "email_verified": True,
                "given_name": "Jane",
                "family_name": "Doe",
                "password_hash": encoded,
            }
        ],
    )
    assert "Imported 1 account(s)." in output and encoded not in output
    sign_in(browser, "jane", PASSWORD)
    result = authorize(browser, rp, scope="openid profile email")
    tokens = exchange(browser, rp, result).json()
    jwks = client.get("/o/jwks/").json()
    claims = validate_id_token(tokens["id_token"], jwks=jwks, audience=rp.client_id, nonce=result.nonce)
    assert claims["sub"] == OLD_SUB
    assert claims["given_name"] == "Jane" and claims["email_verified"] is True
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert userinfo["sub"] == OLD_SUB and userinfo["family_name"] == "Doe"


def test_import_users_accepts_a_phc_argon2_hash_from_another_provider(db, tmp_path, browser):
    phc = argon2.PasswordHasher(time_cost=1, memory_cost=1024).hash("old provider password")
    assert phc.startswith("$argon2id$")
    report = json.loads(
        _import(tmp_path, {"users": [{"sub": "kc-1", "username": "kim", "password_hash": phc}]}, "--json")
    )
    assert report["users"] == [{"username": "kim", "sub": "kc-1", "password": "kept"}]
    assert report["needs_password_reset"] == []
    assert not _signs_in(browser, "kim", "wrong password")
    assert _signs_in(browser, "kim", "old provider password")


def test_import_users_hashes_nothing_verifies_need_a_reset(tmp_path, browser):
    bcrypt_hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    document = [
        {"sub": "a-1", "username": "bob", "password_hash": bcrypt_hash},
        {"sub": "a-2", "username": "eve", "password_hash": "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="},
        {"sub": "a-3", "username": "ann"},
    ]
    report = json.loads(_import(tmp_path, document, "--json"))
    assert [user["password"] for user in report["users"]] == ["needs reset", "needs reset", "none"]
    assert report["needs_password_reset"] == ["bob", "eve", "ann"]
    # bcrypt is verified only by a configured BCryptPasswordHasher, which Porchlight does not configure.
    assert not _signs_in(browser, "bob", "U*U")
    assert bcrypt_hash not in json.dumps(report)


def test_import_users_keeps_no_hash_a_configured_hasher_lacks_the_library_for(db, tmp_path, settings):
    # BCryptPasswordHasher listed, but the bcrypt package not installed: it could not verify.
    settings.PASSWORD_HASHERS = [
        *settings.PASSWORD_HASHERS,
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ]
    bcrypt_hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    report = json.loads(
        _import(tmp_path, [{"sub": "b-1", "username": "bea", "password_hash": bcrypt_hash}], "--json")
    )
    assert report["needs_password_reset"] == ["bea"]


def test_import_users_plain_report_names_accounts_to_reset(db, tmp_path):
    output = _import(tmp_path, [{"sub": "p-1", "username": "pat", "password_hash": "sha1$x$y"}])
    assert "Without a usable password, to be reset or invited: pat" in output


def test_import_users_refuses_a_taken_sub_and_imports_nothing(tmp_path, user, django_user_model):
    document = [
        {"sub": "fresh-1", "username": "first"},
        {"sub": user.subject, "username": "second"},
    ]
    message = _refused(tmp_path, document)
    assert message == "Nothing imported. record 1: sub: belongs to an existing account"
    assert not django_user_model.objects.filter(username__in=["first", "second"]).exists()


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([{"username": "nosub"}], "record 0: sub: is required"),
        ([{"sub": "", "username": "x"}], "record 0: sub: is required"),
        ([{"sub": " padded", "username": "x"}], "record 0: sub: must not start or end with spaces"),
        ([{"sub": "s" * 65, "username": "x"}], "record 0: sub: is longer than 64 characters"),
        ([{"sub": 42, "username": "x"}], "record 0: sub: is required"),
        (
            [{"sub": "s1", "username": "x"}, {"sub": "s1", "username": "y"}],
            "record 1: sub: is the same as record 0's",
        ),
        ([{"sub": "s1", "username": "x"}, {"sub": "s2", "username": "X"}], "record 1: username: is the same"),
        (
            [{"sub": "s1", "username": "alice"}],
            "record 0: username: A user with that username already exists",
        ),
        ([{"sub": "s1", "username": "ALICE"}], "record 0: username: belongs to an existing account"),
        ([{"sub": "s1"}], "record 0: username: is required"),
        ([{"sub": "s1", "username": "x", "email": "not an address"}], "record 0: email: Enter a valid email"),
        ([{"sub": "s1", "username": "x", "is_staff": True}], "record 0: is_staff: is not a field"),
        (
            [{"sub": "s1", "username": "x", "email_verified": "yes"}],
            "record 0: email_verified: must be true or false",
        ),
        ([{"sub": "s1", "username": "x", "birthdate": "01/04/1990"}], "record 0: birthdate: must be a date"),
        (
            [{"sub": "s1", "username": "x", "address": {"city": "Leeds"}}],
            "record 0: address.city: is not a member",
        ),
        ([{"sub": "s1", "username": "x", "groups": "staff"}], "record 0: groups: must be a list"),
        (
            [{"sub": "s1", "username": "x", "groups": ["nobody"]}],
            "record 0: groups: no group is called 'nobody'",
        ),
        (
            [{"sub": "s1", "username": "x", "given_name": "n" * 200}],
            "record 0: given_name: Ensure this value",
        ),
        (["jane"], "record 0: each user is a JSON object"),
        ({"people": []}, 'the file: expected a JSON list of users, or {"users": [...]}'),
    ],
)
def test_import_users_names_the_record_and_field(tmp_path, user, django_user_model, records, expected):
    before = django_user_model.objects.count()
    assert expected in _refused(tmp_path, records)
    assert django_user_model.objects.count() == before


def test_import_users_refuses_what_is_not_json(db, tmp_path):
    path = tmp_path / "users.json"
    path.write_text("[{")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("importusers", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("importusers", str(tmp_path / "missing.json"))


def test_import_users_dry_run_checks_and_keeps_nothing(tmp_path, django_user_model):
    document = [{"sub": "d-1", "username": "dora", "groups": ["new team"]}]
    output = _import(tmp_path, document, "--dry-run", "--create-groups")
    assert "Would import 1 account(s)." in output and "Groups created: new team" in output
    assert not django_user_model.objects.filter(username="dora").exists()
    assert not Group.objects.filter(name="new team").exists()
    assert not AuditEvent.objects.filter(action="user.import").exists()


def test_import_users_groups_exist_or_are_created(tmp_path, django_user_model):
    Group.objects.create(name="staff-london")
    document = [{"sub": "g-1", "username": "gail", "groups": ["staff-london", "readers"]}]
    assert "no group is called 'readers'" in _refused(tmp_path, document)
    report = json.loads(_import(tmp_path, document, "--create-groups", "--json"))
    assert report["groups_created"] == ["readers"]
    gail = django_user_model.objects.get(username="gail")
    assert sorted(gail.groups.values_list("name", flat=True)) == ["readers", "staff-london"]


def test_import_users_reads_standard_input_and_keeps_profile(monkeypatch, django_user_model):
    document = {
        "users": [
            {
                "sub": "stdin-1",
                "username": "ivan",
                "is_active": False,
                "birthdate": "1990-04-01",
                "address": {"locality": "Leeds", "country": "GB"},
                "phone_number": "+441632960001",
                "phone_number_verified": True,
            }
        ]
    }
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(document)))
    out = io.StringIO()
    call_command("importusers", "-", stdout=out)
    ivan = django_user_model.objects.get(username="ivan")
    assert ivan.subject == "stdin-1" and not ivan.is_active and not ivan.has_usable_password()
    assert ivan.address_parts()["locality"] == "Leeds" and ivan.birthdate.isoformat() == "1990-04-01"
    assert not ivan.is_staff and not ivan.is_superuser


def test_import_users_is_audited_without_hashes(db, tmp_path):
    encoded = make_password("whatever", hasher="pbkdf2_sha256")
    _import(tmp_path, [{"sub": "au-1", "username": "audra", "password_hash": encoded}])
    event = AuditEvent.objects.get(action="user.import")
    assert event.actor_label == "importusers command"
    assert event.detail["imported"] == 1 and event.detail["usernames"] == ["audra"]
    assert encoded not in json.dumps(event.detail)


def test_import_users_subject_never_changes_afterwards(tmp_path, django_user_model):
    from django.core.exceptions import ValidationError

    _import(tmp_path, [{"sub": "fixed-1", "username": "fay"}])
    fay = django_user_model.objects.get(username="fay")
    fay.subject = "another"
    with pytest.raises(ValidationError):
        fay.save()
