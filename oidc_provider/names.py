"""How people tell apps apart: by the name and the host the consent page shows them.

Two names are the same to a person when they look the same, so names are compared by keys, not
as strings: a key is the Unicode TR 39 skeleton (UTS #39 §4) of the name, as written or case
folded, after NFKC, with invisible characters removed (format characters such as ZWSP, ZWJ and
BOM, variation selectors, every default-ignorable code point) and runs of spacing, NBSP
included, collapsed to one space. ``disarm.skeleton_key`` computes it from the Unicode
confusables data it ships, so nothing is fetched at run time.
"""

import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

from disarm import skeleton_key

# UAX #9 §2.1-§2.4: embeddings, overrides and isolates reorder what is displayed, so such a name
# can show another app's name while its skeleton (in logical order) differs from that name's.
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _skeleton(text: str) -> str:
    # UTS #39 §4 puts I, l and 1 (and O, 0) in one class; "numeric" would keep digits apart.
    return skeleton_key(text, digit_policy="tr39")


def name_keys(name: str) -> frozenset[str]:
    """Return the keys ``name`` is compared by; empty when a person would see no name at all."""
    # The skeleton of the name as written catches "PorchIight" (capital I for l); that of its
    # case fold catches "PORCHLIGHT", whose capital I the first would fold to l.
    folded = unicodedata.normalize("NFKC", name).casefold()
    return frozenset({_skeleton(name), _skeleton(folded)}) - {""}


def name_reorders(name: str) -> bool:
    """Return whether ``name`` holds a character that changes the order its letters show in."""
    return not DIRECTION_CONTROLS.isdisjoint(name)


def name_look_alike(name: str, others: Iterable[str]) -> str | None:
    """Return the first of ``others`` a person could not tell from ``name``, or None."""
    keys = name_keys(name)
    return next((other for other in others if not keys.isdisjoint(name_keys(other))), None)


def host_shown(uri: str) -> str:
    """Return the host of ``uri`` as the consent page shows it (lower case)."""
    # RFC 3986 §2: a URI is ASCII (oauthlib refuses any other redirect_uri), so an IDN shows as
    # its xn-- A-label, never as letters that could pass for another host's.
    return urlsplit(uri).hostname or ""
