"""The sections of a user's admin page, which the concerns and other apps add to (admin.py draws them).

accounts/admin.py adds the second factors, account, sessions and activity; the e-mail, account
status and data sections come from their concerns' admin modules, and consents and tokens from
oidc_provider's (accounts never imports it). Each imports this module, and admin.py imports the
concerns' modules, so the sections are registered whenever the admin is.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse

from .models import User


@dataclass(frozen=True)
class UserPageSection:
    """A part of a user's admin page: its template, its data, and the actions its buttons post to.

    An action takes the request and the user, does its work (auditing it) and returns the message
    staff see, or a response of its own (a file to download); a ``ValidationError`` is shown as an
    error instead.
    """

    template: str
    context: Callable[[User], dict]
    actions: dict[str, Callable[[HttpRequest, User], str | HttpResponse]] = field(default_factory=dict)
    order: int = 50
    # Drawn below the others, full width and set apart (the danger zone).
    apart: bool = False


# Filled by each admin module that adds a section; read on every request, so import order is free.
USER_PAGE_SECTIONS: list[UserPageSection] = []
