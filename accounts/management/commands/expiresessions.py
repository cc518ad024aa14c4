"""End the sign-in sessions whose lifetime is over, so their apps are told (run it every few minutes)."""

from django.core.management.base import BaseCommand

from accounts.sessions import login_sessions_expire


class Command(BaseCommand):
    help = "End expired sign-in sessions: revoke their tokens and send back-channel logouts."

    def handle(self, *args, **options):
        ended = login_sessions_expire()
        self.stdout.write(f"Ended {ended} expired session{'s' if ended != 1 else ''}.")
