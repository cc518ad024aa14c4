"""A client's sector: the host whose apps share one pairwise subject per user (OIDC Core 1.0 §8.1).

The sector is the host of the client's ``sector_identifier_uri`` when it has one, else the host
of its redirect URIs, which must then all share that one host. The ``sector_identifier_uri`` is
an https URL of a JSON array of redirect URIs (OIDC Registration 1.0 §2, §5): fetched through the
guarded outbound client when the client is saved, it must list every redirect URI of the client,
so no app can claim a sector (and its users' subjects) that does not vouch for it.

This module reads no model, so ``Client.clean()`` can call it.
"""

import json
from urllib.parse import urlsplit

import httpx
from django.utils.translation import gettext as _

from ground import outbound

PUBLIC = "public"
PAIRWISE = "pairwise"

# A sector document is a short list of URIs; a slow or huge one is refused.
FETCH_TIMEOUT = 5.0
FETCH_MAX_BYTES = 64 * 1024


def _host(uri: str) -> str | None:
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return None
    return host or None


def sector_of(*, sector_identifier_uri: str, redirect_uris: list[str]) -> str | None:
    """Return the sector host, or None when there is none (no sector URI, redirect hosts differ)."""
    if sector_identifier_uri:
        return _host(sector_identifier_uri)
    hosts = {_host(uri) for uri in redirect_uris}
    if len(hosts) == 1 and None not in hosts:
        return hosts.pop()
    return None


def sector_problems(
    *, subject_type: str, sector_identifier_uri: str, redirect_uris: list[str], fetch: bool
) -> dict[str, list[str]]:
    """Return what is wrong with a client's subject settings, per field; fetch the sector URI if asked.

    ``fetch`` is false when neither the sector URI nor the redirect URIs changed since they were
    last checked, so an app's other settings can be edited while its sector's server is away.
    """
    if sector_identifier_uri:
        problem = _uri_problem(sector_identifier_uri)
        if problem is None and fetch:
            problem = _listing_problem(sector_identifier_uri, redirect_uris)
        if problem:
            return {"sector_identifier_uri": [problem]}
    elif subject_type == PAIRWISE:
        hosts = sorted({_host(uri) or uri for uri in redirect_uris})
        if not hosts:
            return {
                "sector_identifier_uri": [
                    _(
                        "A pairwise app without redirect URIs needs a sector identifier URI: "
                        "its host is the sector (OIDC Core 1.0 §8.1)."
                    )
                ]
            }
        if len(hosts) > 1:
            return {
                "sector_identifier_uri": [
                    _(
                        "The redirect URIs are on more than one host (%(hosts)s): a pairwise app "
                        "needs a sector identifier URI that lists them all (OIDC Core 1.0 §8.1)."
                    )
                    % {"hosts": ", ".join(hosts)}
                ]
            }
    return {}


def _uri_problem(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _("The sector identifier URI is not a valid URL.")
    if parts.scheme != "https" or not parts.hostname:
        # OIDC Registration 1.0 §2: "URL using the https scheme".
        return _("The sector identifier URI must be an https:// URL (OIDC Registration 1.0 §2).")
    if parts.fragment:
        return _("The sector identifier URI must not have a fragment.")
    refusal = outbound.uri_refusal(uri)
    return f"{refusal}." if refusal else None


def _listing_problem(uri: str, redirect_uris: list[str]) -> str | None:
    """Fetch the sector document; return why it does not vouch for ``redirect_uris``, or None."""
    try:
        response = outbound.request(
            "GET",
            uri,
            timeout=FETCH_TIMEOUT,
            max_bytes=FETCH_MAX_BYTES,
            headers={"Accept": "application/json"},
        )
    except outbound.OutboundRefused as refused:
        return f"{refused.reason}."
    except httpx.HTTPError as error:
        return _("The sector identifier URI could not be fetched (%(error)s).") % {
            "error": f"{type(error).__name__}: {str(error)[:200]}"
        }
    if response.status_code != 200:
        return _("The sector identifier URI answered HTTP %(status)s, not 200 with a JSON array.") % {
            "status": response.status_code
        }
    if response.truncated:
        return _("The sector identifier URI's answer is larger than %(size)s KiB.") % {
            "size": FETCH_MAX_BYTES // 1024
        }
    try:
        listed = json.loads(response.content)
    except (UnicodeDecodeError, ValueError):
        return _("The sector identifier URI's answer is not JSON.")
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        return _("The sector identifier URI's answer must be a JSON array of redirect URIs.")
    # OIDC Registration 1.0 §5: the values are compared as strings, as registered.
    missing = [redirect_uri for redirect_uri in redirect_uris if redirect_uri not in listed]
    if missing:
        return _(
            "The sector identifier URI does not list every redirect URI of the app "
            "(OIDC Registration 1.0 §5); missing: %(missing)s."
        ) % {"missing": ", ".join(missing)[:500]}
    return None
