import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import Worker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def worker(stack_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """A running `driftline worker` on its own topic prefix (so its own topics and registry)."""
    settings = replace(stack_settings, topic_prefix=f"pipe{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(settings, topic_specs(settings))
    w = Worker(settings, tmp_path)
    w.start()
    yield w
    w.stop()
