"""manage.py rotatekeys: make sure every algorithm has an active signing key."""

from django.core.management.base import BaseCommand

from oidc_provider.keys import signing_keys_bootstrap


class Command(BaseCommand):
    help = "Create and activate a signing key for each algorithm that has none."

    def handle(self, *args, **options):
        created = signing_keys_bootstrap()
        for key in created:
            self.stdout.write(f"Created active {key.algorithm} key {key.kid}")
        if not created:
            self.stdout.write("Every algorithm has an active signing key.")
