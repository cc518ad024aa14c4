"""Refusing passwords known from breaches, looked up in a local list (no request leaves the server).

The list is a text file of SHA-1 hashes in hexadecimal, one a line, sorted, each optionally
followed by ``:count``: the format of Have I Been Pwned's "ordered by hash" download, which any
list of plain passwords can be turned into (docs/accounts.md). The file may be tens of gigabytes,
so it is never read into memory: each lookup is a binary search over byte offsets, a few dozen
seeks and short reads (NIST SP 800-63B §3.1.1.2 asks that new passwords be compared against
values known to be compromised).
"""

import hashlib
import os
import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

SHA1_HEX = re.compile(rb"[0-9A-Fa-f]{40}")
# Bytes read at an offset: enough for one whole line after a partial one (40 hex + ":count").
CHUNK = 256


def _line_after(handle, offset: int) -> tuple[bytes, int] | None:
    """Return the first whole line that starts after ``offset`` (or at 0), and where it starts."""
    start = offset
    if offset > 0:
        handle.seek(offset - 1)
        data = handle.read(CHUNK)
        newline = data.find(b"\n")
        if newline < 0:
            return None
        start = offset + newline
    handle.seek(start)
    line = handle.readline(CHUNK).strip()
    return (line, start) if line else None


def breached_hash_listed(path: str | os.PathLike[str], digest: str) -> bool:
    """Return whether the sorted list at ``path`` holds the SHA-1 ``digest`` (hex, any case)."""
    target = digest.upper().encode()
    with open(path, "rb") as handle:
        low, high = 0, os.fstat(handle.fileno()).st_size
        # Invariant: a line equal to target, if any, starts at an offset in [low, high).
        while low < high:
            middle = (low + high) // 2
            found = _line_after(handle, middle)
            if found is None or found[1] >= high:
                high = middle
                continue
            line, start = found
            key = line.split(b":", 1)[0].upper()
            if key == target:
                return True
            if key < target:
                low = start + len(line) + 1
            else:
                high = middle
        return False


def breached_list_problem(path: str) -> str | None:
    """Return why the file at ``path`` cannot serve as the breached-password list, or None."""
    file = Path(path)
    if not file.is_file():
        return f"{path} is not a file."
    try:
        with file.open("rb") as handle:
            head = [handle.readline(CHUNK).strip() for _line in range(3)]
    except OSError as error:
        return f"{path} cannot be read: {error.strerror}."
    lines = [line for line in head if line]
    if not lines:
        return f"{path} is empty."
    keys = [line.split(b":", 1)[0] for line in lines]
    if not all(SHA1_HEX.fullmatch(key) for key in keys):
        return f"{path} does not start with SHA-1 hashes (40 hexadecimal digits a line)."
    if [key.upper() for key in keys] != sorted(key.upper() for key in keys):
        return f"{path} is not sorted by hash."
    return None


class BreachedPasswordValidator:
    """Refuse a password whose SHA-1 is in the local list of breached passwords."""

    def __init__(self, path: str) -> None:
        self.path = path

    def validate(self, password: str, user=None) -> None:
        # SHA-1 only to look the password up in the list's own format; nothing is stored.
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest()
        if breached_hash_listed(self.path, digest):
            raise ValidationError(
                _("This password has appeared in a data breach, so others may try it. Choose another."),
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return str(_("Your password must not be one known from data breaches."))
