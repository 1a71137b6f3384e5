"""The images, built once per session (`make images` does the same), for every container test."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from streams.stack.images import Image, build_all


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[Image]:
    log = tmp_path_factory.mktemp("images") / "images.log"
    images = build_all(Settings.from_env(), log)
    print("\n" + "\n".join(f"{i.name:<40} {i.size_bytes / 1e6:6.0f} MB" for i in images))
    return images
