"""manage.py reencrypt: move every encrypted value to the newest key-encryption key."""

from django.core.management.base import BaseCommand, CommandError

from accounts.encryption import UndecryptableError, encrypted_values_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every value stored encrypted (signing keys, HS256 client secrets, authenticator "
        "app keys) with PORCHLIGHT_KEY_ENCRYPTION_KEY, decrypting with it or one of "
        "PORCHLIGHT_KEY_ENCRYPTION_KEY_FALLBACKS. Values already under the newest key are left alone; "
        "once it has run, the fallback keys can be removed."
    )

    def handle(self, *args, **options):
        try:
            result = encrypted_values_reencrypt(actor_label="reencrypt command")
        except UndecryptableError as exc:
            raise CommandError(f"Nothing was re-encrypted: {exc}.") from exc
        for name, count in result.reencrypted.items():
            if count:
                self.stdout.write(f"{name}: re-encrypted {count}")
        self.stdout.write(
            f"Re-encrypted {result.total_reencrypted} value(s); {result.current} already used the newest "
            "key. Every encrypted value now uses PORCHLIGHT_KEY_ENCRYPTION_KEY."
        )
