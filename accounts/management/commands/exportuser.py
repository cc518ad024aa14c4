"""manage.py exportuser: write a person's data export (the JSON they can download) for a request."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.export.services import data_export_direct


class Command(BaseCommand):
    help = (
        "Write everything Porchlight holds about USERNAME as one JSON document (GDPR Art. 15, 20), "
        "to standard output or --output FILE. Never includes passwords, keys or tokens. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--output", metavar="FILE", help="write to FILE (readable by its owner only)")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user called {options['username']!r}.")
        content = data_export_direct(user=user, actor_label="manage.py exportuser")
        if not options["output"]:
            self.stdout.write(content)
            return
        try:
            # Personal data: only the file's owner may read it.
            descriptor = os.open(options["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(descriptor, "w", encoding="utf-8") as output:
                output.write(content + "\n")
        except OSError as error:
            raise CommandError(f"Cannot write {options['output']}: {error.strerror}") from error
        self.stderr.write(f"Wrote the data of {user.get_username()} to {options['output']}.")
