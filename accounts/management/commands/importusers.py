"""manage.py importusers FILE [--dry-run] [--create-groups] [--json]: bring accounts over with their sub."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.user_import import UserImportError, records_of, users_import


class Command(BaseCommand):
    help = (
        "Import accounts from another provider, keeping each one's subject identifier (sub), from a "
        "JSON FILE ('-' for standard input): a list of users, or {\"users\": [...]}. All or nothing: "
        "a bad record stops the import, naming its index and field. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the JSON document, or - for standard input")
        parser.add_argument("--dry-run", action="store_true", help="check everything, import nothing")
        parser.add_argument(
            "--create-groups", action="store_true", help="make the groups records name that do not exist"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"] == "-":
                document = json.load(sys.stdin)
            else:
                with open(options["file"], encoding="utf-8") as handle:
                    document = json.load(handle)
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}") from error
        except (UnicodeDecodeError, ValueError) as error:
            raise CommandError(f"{options['file']} is not JSON: {error}") from error
        try:
            report = users_import(
                records=records_of(document),
                create_groups=options["create_groups"],
                dry_run=options["dry_run"],
                actor_label="importusers command",
            )
        except UserImportError as error:
            raise CommandError(f"Nothing imported. {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        verb = "Would import" if report.dry_run else "Imported"
        self.stdout.write(f"{verb} {len(report.users)} account(s).")
        if report.groups_created:
            self.stdout.write(f"Groups created: {', '.join(report.groups_created)}")
        resets = [user.username for user in report.users if user.password != "kept"]
        if resets:
            self.stdout.write("Without a usable password, to be reset or invited: " + ", ".join(resets))
