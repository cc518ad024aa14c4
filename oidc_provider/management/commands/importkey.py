"""manage.py importkey PATH: bring a PEM private key (HSM export, old deployment) into the key set."""

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management.base import BaseCommand, CommandError, CommandParser
from jwcrypto import jwk

from audit.actions import Action
from audit.services import audit_record
from oidc_provider.keys import KEY_PARAMS, signing_key_store
from oidc_provider.models import KEY_ALGORITHMS, Algorithm, SigningKey
from oidc_provider.rotation import key_activate

DEFAULT_ALGORITHM: dict[tuple[str | None, str | None], str] = {
    ("RSA", None): Algorithm.RS256,
    ("EC", "P-256"): Algorithm.ES256,
    ("OKP", "Ed25519"): Algorithm.EDDSA,
}


class Command(BaseCommand):
    help = "Import a PEM private key as a signing key (published as `next` unless --active)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument(
            "--algorithm", choices=KEY_ALGORITHMS, help="default: from the key type (RSA: RS256)"
        )
        parser.add_argument(
            "--active", action="store_true", help="sign with it at once (retires the active key)"
        )
        parser.add_argument("--password-file", help="file holding the PEM's passphrase")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pem = Path(options["path"]).read_bytes()
            password = (
                Path(options["password_file"]).read_bytes().strip() if options["password_file"] else None
            )
            key = jwk.JWK.from_pem(pem, password=password)
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:
            raise CommandError(f"Not a usable PEM private key: {exc}") from exc
        if not key.has_private:
            raise CommandError("This is a public key; a signing key needs its private part.")
        kty, crv = key.get("kty"), key.get("crv")
        algorithm = options["algorithm"] or DEFAULT_ALGORITHM.get((kty, crv if kty != "RSA" else None))
        wanted = KEY_PARAMS.get(algorithm, {}) if algorithm else {}
        if algorithm is None or wanted.get("kty") != kty or wanted.get("crv", crv) != crv:
            raise CommandError(
                f"A {kty} {crv or ''} key cannot sign {algorithm or 'with any supported algorithm'}."
            )
        if kty == "RSA":
            signer = key.get_op_key("sign")
            if isinstance(signer, rsa.RSAPrivateKey) and signer.key_size < 2048:
                raise CommandError("RSA signing keys must have at least 2048 bits.")
        if SigningKey.objects.filter(kid=key.thumbprint()).exists():
            raise CommandError("This key is already in the key set.")
        row = signing_key_store(key=key, algorithm=algorithm, state=SigningKey.State.NEXT)
        audit_record(
            action=Action.SIGNING_KEY_IMPORTED,
            target=f"{algorithm} {row.kid}",
            actor_label="importkey command",
        )
        self.stdout.write(f"Imported {algorithm} key {row.kid} as next.")
        if options["active"]:
            # This key, not whichever next key was published first (keys_rotate would pick that).
            for step in key_activate(key=row, actor_label="importkey command"):
                self.stdout.write(str(step))
