"""manage.py clearlockouts: delete expired failed-login records, or lift an account's or IP's lockout."""

from django.core.management.base import BaseCommand

from accounts.throttling import throttle_clear, throttle_clear_expired, throttle_records


class Command(BaseCommand):
    help = (
        "Delete failed-login records that no longer count (run it from cron). With --account or --ip, "
        "clear those records now instead, lifting their lockouts (e.g. when an admin is locked out)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", metavar="USERNAME", help="clear this account's failures and lockout")
        parser.add_argument("--ip", metavar="ADDRESS", help="clear this client IP's failures and lockout")

    def handle(self, *args, **options):
        account, ip = options["account"], options["ip"]
        if account is None and ip is None:
            count = throttle_clear_expired()
            self.stdout.write(f"Deleted {count} expired failed-login record(s).")
            return
        records = throttle_records(username=account, ip=ip)
        count = throttle_clear(records=records, actor_label="clearlockouts command")
        self.stdout.write(f"Cleared {count} failed-login record(s).")
