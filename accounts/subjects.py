"""Subject identifiers for new accounts: a random UUID, or random bits spelled as proquints.

OIDC Core 1.0 §2: ``sub`` is locally unique and never reassigned. Both formats are random, never
derived from the username, e-mail or primary key, and an account keeps the subject it was given
when the format setting later changes (``User.save`` refuses to change it).

Proquints are "A Proposal for Proquints" (D. Wilkerson, arXiv:0901.4016): each 16 bits become
five letters, consonant-vowel-consonant-vowel-consonant, so an identifier can be read out and
typed back. Four quints (``lusab-bansen-tidof-rozog``) hold 64 bits.
"""

import secrets
import uuid

from django.conf import settings

UUID = "uuid"
PROQUINT = "proquint"
FORMATS = (UUID, PROQUINT)

# The paper's tables: 4 bits pick one of 16 consonants, 2 bits one of 4 vowels.
CONSONANTS = "bdfghjklmnprstvz"
VOWELS = "aiou"
# 64 bits: a collision among ten million accounts has odds of about 3 in a million (the birthday
# bound), and User.save() draws again when one happens.
PROQUINT_BITS = 64


def quint(value: int) -> str:
    """Spell one 16-bit value as a five-letter quint (con vo con vo con, from the high bits)."""
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"a quint holds 16 bits, not {value!r}")
    return "".join(
        (
            CONSONANTS[(value >> 12) & 0xF],
            VOWELS[(value >> 10) & 0x3],
            CONSONANTS[(value >> 6) & 0xF],
            VOWELS[(value >> 4) & 0x3],
            CONSONANTS[value & 0xF],
        )
    )


def proquint(data: bytes) -> str:
    """Spell ``data`` (an even number of bytes) as quints joined with "-", most significant first."""
    if len(data) % 2:
        raise ValueError("proquints spell whole 16-bit words: give an even number of bytes")
    return "-".join(quint(int.from_bytes(data[i : i + 2], "big")) for i in range(0, len(data), 2))


def proquint_decode(text: str) -> bytes:
    """Return the bytes ``text`` spells (the inverse of ``proquint``); raise ValueError if it is none."""
    words = bytearray()
    for word in text.split("-"):
        if len(word) != 5:
            raise ValueError(f"{word!r} is not a quint")
        try:
            value = (
                CONSONANTS.index(word[0]) << 12
                | VOWELS.index(word[1]) << 10
                | CONSONANTS.index(word[2]) << 6
                | VOWELS.index(word[3]) << 4
                | CONSONANTS.index(word[4])
            )
        except ValueError:
            raise ValueError(f"{word!r} is not a quint") from None
        words += value.to_bytes(2, "big")
    return bytes(words)


def random_subject(subject_format: str) -> str:
    """Return a fresh random subject in ``subject_format`` ("uuid" or "proquint")."""
    if subject_format == PROQUINT:
        return proquint(secrets.token_bytes(PROQUINT_BITS // 8))
    return str(uuid.uuid4())


def configured_format() -> str:
    """Return the format PORCHLIGHT_SUBJECT_FORMAT chooses for new accounts."""
    return settings.PORCHLIGHT["SUBJECT_FORMAT"]
