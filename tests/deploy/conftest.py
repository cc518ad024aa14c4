"""tests/deploy/test_compose_up.py brings compose.yaml up under podman: an `image` test, run only
with `-m image` as tests/image's are (the same hooks)."""

from tests.image.conftest import pytest_collection_modifyitems, pytest_configure

__all__ = ["pytest_collection_modifyitems", "pytest_configure"]
