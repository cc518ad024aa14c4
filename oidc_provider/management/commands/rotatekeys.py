"""manage.py rotatekeys: move the signing key lifecycle one step when due (safe from cron)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from oidc_provider.models import KEY_ALGORITHMS
from oidc_provider.rotation import keys_rotate, propagation, publish_lead, retention, rotation_period


class Command(BaseCommand):
    help = (
        "Create, promote and remove signing keys as they fall due: a new key is published before it "
        "signs, and a retired key stays published until its tokens have expired. Safe to run from "
        "cron on every node at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            action="store_true",
            help="emergency (e.g. key compromise): replace the active keys at once instead of when due",
        )
        parser.add_argument("--algorithm", action="append", choices=KEY_ALGORITHMS, dest="algorithms")

    def handle(self, *args: Any, **options: Any) -> None:
        steps = keys_rotate(
            force=options["now"], algorithms=options["algorithms"], actor_label="rotatekeys command"
        )
        for step in steps:
            self.stdout.write(str(step))
        if not steps:
            self.stdout.write("Nothing was due.")
        if options["verbosity"] > 1:
            self.stdout.write(
                f"Rotation period {rotation_period()}, publish lead {publish_lead()}, "
                f"retired keys kept {retention()}."
            )
        if options["now"]:
            self.stdout.write(
                f"Forced rotation: new keys are published now and sign in {propagation().seconds} s, once "
                "every node lists them. Retired keys stay published until their tokens expire; to stop "
                "trusting a compromised key at once, delete it in the admin."
            )
