from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from oidc_provider.housekeeping import housekeeping_run, housekeeping_schedule


class Command(BaseCommand):
    help = (
        "Prune expired tokens, grants, device codes, sessions, lockouts and old audit events, re-read "
        "directory accounts, and step key rotation. With --schedule, enqueue the self-repeating "
        "background job instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schedule", action="store_true", help="enqueue the job for the task worker")

    def handle(self, *args: Any, schedule: bool = False, **options: Any) -> None:
        if schedule:
            enqueued = housekeeping_schedule()
            self.stdout.write("housekeeping scheduled" if enqueued else "housekeeping already scheduled")
            return
        counts = housekeeping_run()
        if counts is None:
            self.stdout.write("another node is running housekeeping now")
            return
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in counts.items()))
