"""manage.py deleteuser USERNAME [--now] [--json]: close an account and erase it after the grace period."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.lifecycle.services import account_deletion_request
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Delete an account on its holder's request: it is closed at once (signed out everywhere, tokens "
        "revoked, apps told) and erased after PORCHLIGHT_ACCOUNT_DELETION_GRACE_DAYS, or now with --now."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--now", action="store_true", help="erase now, not after the grace period")
        parser.add_argument(
            "--json", action="store_true", help='print {"username": ..., "erase_after": ..., "erased": ...}'
        )

    def handle(self, *args, **options):
        username = options["username"]
        user = User.objects.filter(username=username, erased__isnull=True).first()
        if user is None:
            raise CommandError(f"No account has the username {username!r}.")
        try:
            erase_after = account_deletion_request(
                user=user, actor=None, now=options["now"], actor_label="deleteuser command"
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if options["json"]:
            result = {
                "username": username,
                "erase_after": erase_after.isoformat() if erase_after else None,
                "erased": erase_after is None,
            }
            self.stdout.write(json.dumps(result))
        elif erase_after is None:
            self.stdout.write(f"Erased {username}.")
        else:
            self.stdout.write(
                f"Closed {username}; it will be erased after {erase_after:%Y-%m-%d %H:%M} UTC "
                "unless staff restore it in the admin before then."
            )
