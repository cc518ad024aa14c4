"""manage.py importkey: bring an existing PEM private key into the key set, published before it signs."""

import base64
import hashlib
import json
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from oidc_provider import keys
from oidc_provider.models import Algorithm, SigningKey
from tests.conftest import authorize, exchange, validate_id_token
from tests.tokens import header_of

JWKS = "/o/jwks/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_int(value: int, length: int | None = None) -> str:
    return b64url(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))


def make_rsa(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_ec(curve=None):
    return ec.generate_private_key(curve or ec.SECP256R1())


def make_ed25519():
    return ed25519.Ed25519PrivateKey.generate()


def public_members(private) -> dict:
    """The RFC 7638 §3.2 required members of the public JWK, computed without jwcrypto."""
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.public_key().public_numbers()
        return {"e": b64url_int(numbers.e), "kty": "RSA", "n": b64url_int(numbers.n)}
    if isinstance(private, ec.EllipticCurvePrivateKey):
        point = private.public_key().public_numbers()
        return {"crv": "P-256", "kty": "EC", "x": b64url_int(point.x, 32), "y": b64url_int(point.y, 32)}
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}


def thumbprint(private) -> str:
    """RFC 7638 §3: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps(public_members(private), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def private_values(private) -> list[str]:
    """The secret numbers, as base64url (how a JWK would hold them) and as decimal."""
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.private_numbers()
        secrets = [numbers.d, numbers.p, numbers.q]
        return [b64url_int(value) for value in secrets] + [str(value) for value in secrets]
    if isinstance(private, ec.EllipticCurvePrivateKey):
        value = private.private_numbers().private_value
        return [b64url_int(value, 32), str(value)]
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return [b64url(raw), raw.hex()]


def write_pem(tmp_path, private, name="key.pem", password: bytes | None = None):
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path = tmp_path / name
    path.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def import_key(path, *options) -> str:
    out = StringIO()
    call_command("importkey", str(path), *options, stdout=out)
    return out.getvalue()


KINDS = [
    pytest.param(make_rsa, Algorithm.RS256, id="rsa"),
    pytest.param(make_ec, Algorithm.ES256, id="ec-p256"),
    pytest.param(make_ed25519, Algorithm.EDDSA, id="ed25519"),
]


@pytest.mark.parametrize(("make", "algorithm"), KINDS)
def test_importkey_publishes_key_as_next_under_its_thumbprint(make, algorithm, tmp_path, client, db):
    private = make()
    output = import_key(write_pem(tmp_path, private))

    kid = thumbprint(private)
    assert output == f"Imported {algorithm} key {kid} as next.\n"
    row = SigningKey.objects.get()
    assert (row.algorithm, row.kid, row.state) == (algorithm, kid, SigningKey.State.NEXT)
    published = {key["kid"]: key for key in client.get(JWKS).json()["keys"]}
    assert published[kid] == {**public_members(private), "kid": kid, "alg": algorithm, "use": "sig"}
    # Encrypted at rest: no private number appears in the stored row.
    stored = json.dumps(row.public_jwk) + row.private_jwk_encrypted
    pem_body = "".join(write_pem(tmp_path, private, "again.pem").read_text().splitlines()[1:-1])
    for secret in [*private_values(private), pem_body]:
        assert secret not in stored
    event = AuditEvent.objects.get()
    assert (event.action, event.target, event.actor_label) == (
        "signing_key.imported",
        f"{algorithm} {kid}",
        "importkey command",
    )


@pytest.mark.parametrize(("make", "algorithm"), KINDS)
def test_importkey_active_signs_the_next_id_token(
    make, algorithm, tmp_path, make_client, signing_keys, logged_in, client
):
    rp = make_client(algorithm=algorithm)
    before = exchange(client, rp, authorize(logged_in, rp)).json()["id_token"]
    private = make()

    output = import_key(write_pem(tmp_path, private), "--active")

    kid = thumbprint(private)
    assert f"{algorithm}: promoted {kid}" in output
    result = authorize(logged_in, rp)
    body = exchange(client, rp, result).json()
    assert header_of(body["id_token"]) == {"alg": algorithm, "typ": "JWT", "kid": kid}
    jwks = client.get(JWKS).json()
    validate_id_token(body["id_token"], jwks=jwks, audience=rp.client_id, nonce=result.nonce)
    # The key it replaced stays published for the tokens it signed.
    validate_id_token(before, jwks=jwks, audience=rp.client_id)


def test_importkey_active_wins_over_an_already_published_next_key(tmp_path, rp, logged_in, client):
    # A generated next key is waiting (published, not yet signing) when the operator imports one.
    waiting = keys.signing_key_create(algorithm=Algorithm.RS256, state=SigningKey.State.NEXT)
    private = make_rsa()

    import_key(write_pem(tmp_path, private), "--active")

    body = exchange(client, rp, authorize(logged_in, rp)).json()
    assert header_of(body["id_token"])["kid"] == thumbprint(private)
    assert waiting.kid in {key["kid"] for key in client.get(JWKS).json()["keys"]}


def test_importkey_algorithm_option_imports_rsa_key_for_ps256(tmp_path, client, db):
    private = make_rsa()
    import_key(write_pem(tmp_path, private), "--algorithm", Algorithm.PS256)
    published = {key["kid"]: key for key in client.get(JWKS).json()["keys"]}
    assert published[thumbprint(private)]["alg"] == Algorithm.PS256


def test_importkey_reads_passphrase_from_file(tmp_path, client, db):
    private = make_ec()
    password_file = tmp_path / "passphrase"
    password_file.write_text("open sesame\n")
    path = write_pem(tmp_path, private, password=b"open sesame")
    import_key(path, "--password-file", str(password_file))
    assert thumbprint(private) in {key["kid"] for key in client.get(JWKS).json()["keys"]}


def public_pem(tmp_path):
    path = tmp_path / "public.pem"
    path.write_bytes(
        make_rsa()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return [str(path)], "public key"


def short_rsa_pem(tmp_path):
    return [str(write_pem(tmp_path, make_rsa(1024)))], "2048 bits"


def garbage_file(tmp_path):
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    return [str(path)], "Not a usable PEM private key"


def missing_file(tmp_path):
    return [str(tmp_path / "nowhere.pem")], "Cannot read"


def rsa_key_for_es256(tmp_path):
    return [str(write_pem(tmp_path, make_rsa())), "--algorithm", Algorithm.ES256], "cannot sign ES256"


def p384_key(tmp_path):
    return [str(write_pem(tmp_path, make_ec(ec.SECP384R1())))], "cannot sign"


def encrypted_without_passphrase(tmp_path):
    return [str(write_pem(tmp_path, make_ec(), password=b"open sesame"))], "Not a usable PEM private key"


def already_imported(tmp_path):
    path = write_pem(tmp_path, make_ec())
    import_key(path)
    return [str(path)], "already in the key set"


@pytest.mark.parametrize(
    "scenario",
    [
        public_pem,
        short_rsa_pem,
        garbage_file,
        missing_file,
        rsa_key_for_es256,
        p384_key,
        encrypted_without_passphrase,
        already_imported,
    ],
)
def test_importkey_refuses_unusable_key_and_stores_nothing(scenario, tmp_path, signing_keys, client):
    arguments, message = scenario(tmp_path)
    published = client.get(JWKS).json()
    rows, events = SigningKey.objects.count(), AuditEvent.objects.count()

    with pytest.raises(CommandError, match=message):
        call_command("importkey", *arguments, "--active", stdout=StringIO())

    assert (SigningKey.objects.count(), AuditEvent.objects.count()) == (rows, events)
    assert client.get(JWKS).json() == published
