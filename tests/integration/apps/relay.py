"""A one-agent Faust app built by the app factory, run as a real worker process by a test.

Usage: python relay.py PREFIX  (topics PREFIX.in -> PREFIX.out, upper-casing each value)
"""

import sys
from dataclasses import replace

from faust.worker import Worker

from streams.settings import Settings
from streams.stack.ports import free_port
from streams.worker.app import create_app

settings = replace(Settings.from_env(), topic_prefix=sys.argv[1], web_port=free_port())
app = create_app(settings)
source = app.topic(settings.topic("in"))
sink = app.topic(settings.topic("out"))


@app.agent(source)
async def relay(stream):  # type: ignore[no-untyped-def]
    async for value in stream:
        await sink.send(value=value.upper())


if __name__ == "__main__":
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
