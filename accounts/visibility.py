"""Which apps can see each of a user's profile fields, as the profile page tells them.

Scopes, claims and consents belong to oidc_provider, which accounts never imports: it registers
a reader here at start-up (``oidc_provider/receivers.py``), as it registers admin sections.
"""

from collections.abc import Callable

# Each reader returns, for a user, {profile field name: names of the apps that can see it}.
field_readers: list[Callable[..., dict[str, list[str]]]] = []


def apps_seeing(user) -> dict[str, list[str]]:
    """Return, for each profile field, the names of the apps ``user`` allowed to see it."""
    seen: dict[str, list[str]] = {}
    for reader in field_readers:
        for field, names in reader(user).items():
            seen.setdefault(field, []).extend(names)
    return seen
