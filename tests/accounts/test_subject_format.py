"""PORCHLIGHT_SUBJECT_FORMAT: the sub new accounts get, as apps see it in tokens and UserInfo."""

import re

import pytest

from accounts import subjects
from accounts.subjects import proquint, proquint_decode
from tests.conftest import PASSWORD, authorize, exchange, sign_in, validate_id_token
from tests.environment import load_settings

PROQUINT_SUB = re.compile(
    r"^[bdfghjklmnprstvz][aiou][bdfghjklmnprstvz][aiou][bdfghjklmnprstvz](-[a-z]{5}){3}$"
)

# "A Proposal for Proquints" (Wilkerson, arXiv:0901.4016): its table of IPv4 addresses.
PAPER_EXAMPLES = [
    ("127.0.0.1", "lusab-babad"),
    ("63.84.220.193", "gutih-tugad"),
    ("63.118.7.35", "gutuk-bisog"),
    ("140.98.193.141", "mudof-sakat"),
    ("64.255.6.200", "haguz-biram"),
    ("128.30.52.45", "mabiv-gibot"),
    ("147.67.119.2", "natag-lisaf"),
    ("212.58.253.68", "tibup-zujah"),
    ("216.35.68.215", "tobog-higil"),
    ("216.68.232.21", "todah-vobij"),
    ("198.81.129.136", "sinid-makam"),
    ("12.110.110.204", "budov-kuras"),
]


@pytest.fixture
def proquint_format(settings):
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SUBJECT_FORMAT": "proquint"}


def _id_token(http, rp, username: str) -> tuple[dict, dict]:
    """Sign ``username`` in and run the code flow; return the verified ID token claims and tokens."""
    sign_in(http, username, PASSWORD)
    result = authorize(http, rp, scope="openid")
    tokens = exchange(http, rp, result).json()
    jwks = http.get("/o/jwks/").json()
    claims = validate_id_token(tokens["id_token"], jwks=jwks, audience=rp.client_id, nonce=result.nonce)
    return claims, tokens


@pytest.mark.parametrize(("address", "spelled"), PAPER_EXAMPLES)
def test_subject_format_proquint_spells_the_papers_examples(address, spelled):
    data = bytes(int(part) for part in address.split("."))
    assert proquint(data) == spelled
    assert proquint_decode(spelled) == data


def test_subject_format_proquint_refuses_what_is_no_quint():
    for text in ("lusab-babaa", "lusa-babad", "LUSAB-babad", "lusab_babad"):
        with pytest.raises(ValueError):
            proquint_decode(text)
    with pytest.raises(ValueError):
        proquint(b"\x01")


def test_subject_format_proquint_reaches_id_token_and_userinfo(
    proquint_format, browser, django_user_model, rp, client
):
    carol = django_user_model.objects.create_user(username="carol", password=PASSWORD)
    claims, tokens = _id_token(browser, rp, "carol")
    assert PROQUINT_SUB.match(claims["sub"]), claims["sub"]
    # Four quints: at least 64 random bits.
    assert len(proquint_decode(claims["sub"])) * 8 >= 64
    assert claims["sub"] == carol.subject
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert userinfo["sub"] == claims["sub"]


def test_subject_format_proquint_subjects_differ(proquint_format, django_user_model):
    made = {django_user_model.objects.create_user(username=f"user{n}").subject for n in range(20)}
    assert len(made) == 20 and all(PROQUINT_SUB.match(sub) for sub in made)


def test_subject_format_uuid_is_the_default(browser, django_user_model, rp):
    django_user_model.objects.create_user(username="dave", password=PASSWORD)
    claims, _ = _id_token(browser, rp, "dave")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", claims["sub"])


def test_subject_format_change_keeps_existing_subjects(settings, browser, django_user_model, rp):
    erin = django_user_model.objects.create_user(username="erin", password=PASSWORD)
    before = erin.subject
    settings.PORCHLIGHT = {**settings.PORCHLIGHT, "SUBJECT_FORMAT": "proquint"}
    erin.first_name = "Erin"
    erin.save()
    claims, _ = _id_token(browser, rp, "erin")
    assert claims["sub"] == before and not PROQUINT_SUB.match(before)
    newcomer = django_user_model.objects.create_user(username="frank")
    assert PROQUINT_SUB.match(newcomer.subject)


def test_subject_format_draws_again_on_a_collision(proquint_format, django_user_model, monkeypatch):
    first = django_user_model.objects.create_user(username="first")
    taken = proquint_decode(first.subject)
    draws = iter([taken, taken, bytes(range(8))])
    monkeypatch.setattr(subjects.secrets, "token_bytes", lambda n: next(draws))
    second = django_user_model.objects.create_user(username="second")
    assert second.subject == proquint(bytes(range(8))) != first.subject
    assert django_user_model.objects.get(username="second").subject == second.subject


def test_subject_format_refuses_an_unknown_value(tmp_path):
    result = load_settings(tmp_path, PORCHLIGHT_SUBJECT_FORMAT="sequential")
    assert result.returncode != 0
    assert "PORCHLIGHT_SUBJECT_FORMAT must be uuid or proquint, not 'sequential'" in result.stderr


def test_subject_format_setting_is_read(tmp_path):
    result = load_settings(
        tmp_path, "settings.PORCHLIGHT['SUBJECT_FORMAT']", PORCHLIGHT_SUBJECT_FORMAT="Proquint"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "proquint"
