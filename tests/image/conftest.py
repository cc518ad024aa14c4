"""The container image tests run only when asked for: `pytest -m image tests/image`.

They build the image (a few minutes, root, mmdebstrap, buildah and podman), so a plain `pytest`
or `make test` deselects them (reported as deselected, not skipped) until it selects them with
`-m image` (a marker expression asking for ``image``; `-m "not image"` leaves them out).
"""

import pytest


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "image: builds the container image (deploy/image/build.sh) and runs it under podman"
    )


def pytest_collection_modifyitems(config, items) -> None:
    # Selected only by an expression that asks for them: `-m image`, `-m "image and not e2e"`;
    # `-m "not image"` leaves them out like a plain run.
    expression = config.option.markexpr or ""
    if "image" in expression and "not image" not in expression:
        return
    chosen: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (left if item.get_closest_marker("image") else chosen).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = chosen
