"""The runtime's send callback: a record that could not be written stops commits at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from agents.runtime import Runtime


def test_a_failed_send_marks_the_app_before_the_crash_runs() -> None:
    crashed: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashed.append(exc)

    async def main() -> Any:
        app = SimpleNamespace(send_failed=None, crash=crash)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_exception(RuntimeError("the broker refused it"))
        Runtime._check_sent(SimpleNamespace(app=app), fut)  # type: ignore[arg-type]
        marked = app.send_failed  # before the loop runs anything else
        await asyncio.sleep(0)
        return marked

    marked = asyncio.run(main())
    assert isinstance(marked, RuntimeError) and crashed == [marked]
