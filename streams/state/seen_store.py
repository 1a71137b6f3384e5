"""The scorer's memory of recent event ids, in Redis: ``duplicate_event`` across restarts and workers.

Each event id is a key ``<prefix>:seen:<event_id>`` holding the raw record it came from
(``partition:offset``) and expiring after the spec's dedup horizon. One Lua call per batch sets
the new ids and answers, for each: new, the *same* record read again (a restart replays what was
not committed: it is scored again, not dead-lettered), or a repeat from another record (a
duplicate). In Redis, the memory survives a restart and is shared by every worker, so a
duplicate is caught whichever partition it lands in. Expiry is by wall clock here and by event
time in replay, which has no Redis.

When Redis does not answer, or refuses writes, every event is admitted (``available`` turns False): scoring goes on
and duplicates are not caught until Redis answers again. A lost event would be worse than a
duplicate, and stopping the scorer for its memory of ids would lose the stream's freshness.
While it is away, :meth:`SeenStore.probe` asks Redis for a write every few seconds, so its return
is known (and said) even when no event comes.
"""

from __future__ import annotations

import redis

_CHECK = """
local horizon = ARGV[#ARGV]
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[i], 'NX', 'EX', horizon) then
    out[i] = 1
  elseif redis.call('GET', KEYS[i]) == ARGV[i] then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""


class SeenStore:
    """Event ids seen within ``horizon_s`` seconds, for one namespace."""

    def __init__(self, client: redis.Redis, prefix: str, horizon_s: float) -> None:
        self.client = client
        self.prefix = f"{prefix}:seen:"
        self._probe_key = f"{prefix}:seen-probe"  # outside the event ids' keys
        self.horizon = max(1, int(round(horizon_s)))
        self._check = client.register_script(_CHECK)
        self.available = True  # whether the last call reached Redis
        self.error: redis.RedisError | None = None  # why it did not

    def admit(self, events: list[tuple[str, str]]) -> list[bool]:
        """For each ``(event_id, origin)`` in order: True when it is new or the same record read
        again, False when another record already brought that id (a duplicate)."""
        if not events:
            return []
        keys = [self.prefix + event_id for event_id, _ in events]
        args = [origin for _, origin in events] + [self.horizon]
        try:
            flags = self._check(keys=keys, args=args)
        except redis.RedisError as exc:
            self.available, self.error = False, exc
            return [True] * len(events)
        self.available, self.error = True, None
        return [bool(flag) for flag in flags]

    def probe(self) -> bool:
        """Whether Redis takes a write now (a key that expires in a minute), noted in
        ``available`` and ``error`` as :meth:`admit` does."""
        try:
            self.client.set(self._probe_key, b"1", ex=60)
        except redis.RedisError as exc:
            self.available, self.error = False, exc
        else:
            self.available, self.error = True, None
        return self.available
