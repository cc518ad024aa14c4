"""The language each page is shown in, chosen once per request by ``LanguageMiddleware``.

In order, the first that names a shipped language (``settings.LANGUAGES``) wins:

1. ``ui_locales`` of the authorization request (OIDC Core 1.0 §3.1.2.1) or logout request
   (RP-Initiated Logout 1.0 §2) the person is in the middle of. The authorization and logout
   views hand it to ``ui_locales_use``; it is kept in the session, so the sign-in, second-factor
   and consent pages of that request speak it too, and dropped when the answer goes back to the
   app (``ui_locales_forget``) or a new request names none.
2. The signed-in account's ``locale`` (BCP 47, chosen on the profile page).
3. The language switcher's choice (Django's ``set_language`` view and cookie), for people who
   are not signed in.
4. The browser's ``Accept-Language``; then ``settings.LANGUAGE_CODE``.

A tag is matched as Django does (``de-AT`` → ``de``, ``pt`` → ``pt-br``); a tag that names no
shipped language is skipped, never an error (§3.1.2.1: an OP "SHOULD NOT" fail for it).
"""

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

SESSION_KEY = "porchlight_ui_locales"
# BCP 47 tags are short; a request naming more than a few is read only that far.
TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")
MAX_TAGS = 10


def language_of(tag: str | None) -> str | None:
    """Return the shipped language (a ``settings.LANGUAGES`` code) ``tag`` asks for, or None."""
    tag = (tag or "").strip()
    if not tag or len(tag) > 35 or not TAG.match(tag):
        return None
    try:
        return translation.get_supported_language_variant(tag.replace("_", "-").lower())
    except LookupError:
        return None


def ui_locales_language(value: str | None) -> str | None:
    """Return the first shipped language of a space-separated ``ui_locales`` list, or None."""
    for tag in (value or "").split()[:MAX_TAGS]:
        language = language_of(tag)
        if language:
            return language
    return None


def ui_locales_use(request: HttpRequest, value: str | None) -> None:
    """Show this request's pages, and the ones until its answer, in the language ``value`` asks for.

    ``value`` is the request's ``ui_locales``; without a shipped language in it, an earlier
    request's choice is dropped and the account's or browser's language applies again.
    """
    language = ui_locales_language(value)
    if not hasattr(request, "session"):
        return
    if language is None:
        if request.session.pop(SESSION_KEY, None) is not None:
            _activate(request, request_language(request))
        return
    if request.session.get(SESSION_KEY) != language:
        request.session[SESSION_KEY] = language
    _activate(request, language)


def ui_locales_forget(request: HttpRequest) -> None:
    """Drop the language of a finished request; the page being answered keeps it."""
    if hasattr(request, "session"):
        request.session.pop(SESSION_KEY, None)


def request_language(request: HttpRequest) -> str:
    """Return the language for ``request``, by the order in this module's docstring."""
    # Without a session cookie there is no ui_locales kept and no one signed in; not touching
    # the session then keeps answers free of "Vary: Cookie" (cacheable, ops/documents.py).
    session = getattr(request, "session", None) if settings.SESSION_COOKIE_NAME in request.COOKIES else None
    if session is not None:
        language = language_of(session.get(SESSION_KEY))
        if language:
            return language
    user = getattr(request, "user", None) if session is not None else None
    if user is not None and user.is_authenticated:
        language = language_of(getattr(user, "locale", ""))
        if language:
            return language
    # The switcher's cookie, then Accept-Language, then LANGUAGE_CODE (Django's own order).
    return translation.get_language_from_request(request)


def _activate(request: HttpRequest, language: str) -> None:
    translation.activate(language)
    request.LANGUAGE_CODE = language  # type: ignore[attr-defined]


class LanguageMiddleware:
    """Activate the request's language (``request_language``) for its pages, e-mails and messages.

    Placed after the session and authentication middleware. Pages differ by the session, the
    account and the cookie, which vary with Cookie already, and by Accept-Language, added here to
    HTML answers only: a JSON answer for a program (discovery at its slash path, say) is the
    same in every language, and stays cacheable (ops/documents.py keeps none that varies).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _activate(request, request_language(request))
        try:
            response = self.get_response(request)
            # A 304 has no body (and Django's default content type): it says nothing in a language.
            if response.status_code != 304 and response.get("Content-Type", "").startswith("text/html"):
                patch_vary_headers(response, ("Accept-Language",))
                response.headers.setdefault("Content-Language", translation.get_language())
        finally:
            # A protocol endpoint later served by this thread skips this middleware: it must not
            # inherit this person's language.
            translation.activate(settings.LANGUAGE_CODE)
        return response


def user_language(user: object) -> str:
    """Return the language to write to ``user`` in (an e-mail): their ``locale``, else the request's."""
    return language_of(getattr(user, "locale", "")) or translation.get_language() or settings.LANGUAGE_CODE


def ui_locales_supported() -> list[str]:
    """Return the shipped languages as BCP 47 tags (``pt-BR``), for discovery's ``ui_locales_supported``."""
    return [translation.to_locale(code).replace("_", "-") for code, _name in settings.LANGUAGES]
