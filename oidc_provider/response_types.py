"""Response types beyond ``code``: the implicit and hybrid flows, off unless a client opts in.

OIDC Core 1.0 §3.2 (implicit) and §3.3 (hybrid) return an ID token, an access token or both
from the authorization endpoint, through the browser. RFC 9700 §2.1.2 discourages this: tokens
in the front channel leak through browser history, Referer headers and logs, and cannot be
bound to the client. Porchlight serves them only to a client whose ``response_types`` name them
(``Client.response_types``); everything else about the request (consent, prompt, max_age, acr,
the MFA policy, the claims parameter) follows the code flow's one path.

The rules here are what the authorization view and the validator enforce:

- a response type's words may come in any order (Multiple Response Types §3); it is handled in
  the canonical order of ``ResponseType``;
- a response type with ``token`` or ``id_token`` answers in the fragment by default, never in
  the query (Multiple Response Types §5), or with form_post when asked;
- ``nonce`` is required whenever the authorization endpoint returns an ID token (OIDC Core 1.0
  §3.2.2.1, §3.3.2.11);
- tokens issued there live at most ``FRONT_CHANNEL_TOKEN_LIFETIME`` seconds, and no refresh
  token is ever issued there (RFC 6749 §4.2.2).

Discovery lists ``code`` and each other type some client has turned on (``enabled``); it is read
without a query per request, like the claim catalogue (custom_claims.py).
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ground.shared_value import SharedValue

from .models import Client, ResponseType

WORDS = ("code", "id_token", "token")
# Multiple Response Types §5: MUST NOT use query encoding for a response with tokens in it.
FRONT_CHANNEL_MODES = ("fragment", "form_post")
# Access and ID tokens from the authorization endpoint: short, since they pass through the browser.
FRONT_CHANNEL_TOKEN_LIFETIME = 5 * 60

CACHE_KEY = "porchlight:response-types-enabled:1"
CACHE_SECONDS = 60
LOCAL_SECONDS = 5


def response_type_normalized(value: str | None) -> str | None:
    """Return ``value`` in the canonical order of its words, or None unless it is a supported type."""
    words = (value or "").split()
    if len(set(words)) != len(words) or not set(words) <= set(WORDS):
        return None
    canonical = " ".join(word for word in WORDS if word in words)
    return canonical if canonical in ResponseType.values else None


def front_channel(value: str | None) -> bool:
    """Return whether a response of type ``value`` carries a token (an ID token or an access token)."""
    words = set((value or "").split())
    return bool(words & {"id_token", "token"})


def returns_id_token(value: str | None) -> bool:
    """Return whether the authorization endpoint returns an ID token for ``value`` (nonce required)."""
    return "id_token" in (value or "").split()


def returns_code(value: str | None) -> bool:
    return "code" in (value or "").split()


def default_response_mode(value: str | None) -> str:
    """Return the response mode of ``value`` when none is asked for (Multiple Response Types §2.1, §5)."""
    return "fragment" if front_channel(value) else "query"


# --- which optional types some client has turned on (discovery) -------------------------------


def enabled() -> tuple[str, ...]:
    """Return the response types beyond ``code`` that at least one client may use, in canonical order."""
    return _ENABLED.get()


def _enabled_read() -> tuple[str, ...]:
    turned_on: set[str] = set()
    # Most clients keep the default; only the others are read.
    for types in Client.objects.exclude(response_types=[ResponseType.CODE]).values_list(
        "response_types", flat=True
    ):
        turned_on.update(value for value in types or [] if isinstance(value, str))
    return tuple(value for value in ResponseType.values if value != ResponseType.CODE and value in turned_on)


_ENABLED: SharedValue[tuple[str, ...]] = SharedValue(
    CACHE_KEY, _enabled_read, tuple, seconds=CACHE_SECONDS, local_seconds=LOCAL_SECONDS
)


def enabled_forget() -> None:
    """Drop the cached answer here and in the shared cache; the next reader reads it again."""
    _ENABLED.forget()


@receiver(post_save, sender=Client)
@receiver(post_delete, sender=Client)
def _client_changed(**kwargs: object) -> None:
    # Now and again on commit, as the claim catalogue (a reader may cache the old answer in between).
    _ENABLED.forget_now_and_on_commit()
