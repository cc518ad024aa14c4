"""The one checksum stored secrets are found by (ground/checksums.py)."""

import hashlib

import pytest

from ground.checksums import token_checksum


@pytest.mark.parametrize("value", ["abc", "dGhpcy1pcy1hLXRva2Vu_-", "ünïcødé-✓", ""])
def test_checksum_is_the_sha256_hex_every_stored_row_holds(value):
    # Rows written before this function hashed value.encode(): the same bytes, no migration.
    assert token_checksum(value) == hashlib.sha256(value.encode()).hexdigest()


def test_checksum_of_a_lone_surrogate_does_not_raise():
    # No issued token holds one, so such a value simply matches nothing.
    assert len(token_checksum("\ud800")) == 64
