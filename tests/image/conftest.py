"""The container image tests run only when asked for: `pytest -m image tests/image`.

They build the image (a few minutes, root, mmdebstrap, buildah and podman), so a plain `pytest`
or `make test` deselects them (reported as deselected, not skipped) until it selects them with
`-m image` (any marker expression naming ``image``).
"""

import pytest


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "image: builds the container image (deploy/image/build.sh) and runs it under podman"
    )


def pytest_collection_modifyitems(config, items) -> None:
    if "image" in (config.option.markexpr or ""):
        return
    chosen: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (left if item.get_closest_marker("image") else chosen).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = chosen
