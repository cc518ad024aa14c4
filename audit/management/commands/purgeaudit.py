from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_purge


class Command(BaseCommand):
    help = "Delete audit events older than PORCHLIGHT_AUDIT_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="keep this many days instead of the setting")

    def handle(self, *args, days=None, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        days = settings.PORCHLIGHT["AUDIT_RETENTION_DAYS"] if days is None else days
        deleted = audit_purge(days=days)
        self.stdout.write(f"Deleted {deleted} audit event(s) older than {days} day(s).")
