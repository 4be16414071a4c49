"""A limit on wrong dashboard passwords: failures are counted per user name and per client
(the browser's address, which the dashboard passes on); too many in a window lock that name or
client out for a cooling period. The name is counted whether or not the user exists, so the
answer never says which names are real.

Per name, the limit is low (5): it stops guessing one account's password. Per client it is
higher (20): it stops trying one password over many names, and leaves room for a team behind
one proxy address. A locked name can be held locked by whoever keeps failing on it; that is
the price of the limit, and an admin can still sign in under another name.

The counts live in memory (a restart clears them) and are bounded: at most MAX_KEYS names and
clients, the least recently seen dropped first, each with at most its limit of failure times.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_S = 300.0  # failures older than this are forgotten
LOCKOUT_S = 300.0  # the cooling period once the limit is reached
MAX_PER_NAME = 5
MAX_PER_CLIENT = 20
MAX_KEYS = 10_000


@dataclass
class _Count:
    failures: deque = field(default_factory=deque)
    locked_until: float = 0.0


class LoginLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S,
                 lockout_s: float = LOCKOUT_S, per_name: int = MAX_PER_NAME,
                 per_client: int = MAX_PER_CLIENT, max_keys: int = MAX_KEYS):
        self.clock, self.window_s, self.lockout_s = clock, window_s, lockout_s
        self.limits = {"name": per_name, "client": per_client}
        self.max_keys = max_keys
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counts)

    def retry_after(self, name: str, client: str) -> int:
        """Seconds until `name` from `client` may try again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            waits = [c.locked_until - now for key in _keys(name, client)
                     if (c := self._counts.get(key)) is not None]
        return max(0, math.ceil(max(waits, default=0)))

    def failed(self, name: str, client: str) -> bool:
        """Count a wrong password; True when it locks the name or the client."""
        now, locked = self.clock(), False
        with self._lock:
            for key in _keys(name, client):
                count = self._count(key, now)
                while count.failures and count.failures[0] <= now - self.window_s:
                    count.failures.popleft()
                count.failures.append(now)
                if len(count.failures) >= self.limits[key[0]]:
                    count.locked_until, locked = now + self.lockout_s, True
                    count.failures.clear()
        return locked

    def succeeded(self, name: str) -> None:
        """A right password clears the name's count (not the client's: one good account
        must not reset a client that is guessing others)."""
        with self._lock:
            self._counts.pop(("name", name.casefold()), None)

    def _count(self, key: tuple[str, str], now: float) -> _Count:
        count = self._counts.get(key)
        if count is None:
            if len(self._counts) >= self.max_keys:
                self._forget(now)
            count = self._counts[key] = _Count()
        self._counts.move_to_end(key)
        return count

    def _forget(self, now: float) -> None:
        """Drop the counts that no longer matter; if none, the least recently seen one."""
        idle = [k for k, c in self._counts.items() if c.locked_until <= now and
                (not c.failures or c.failures[-1] <= now - self.window_s)]
        for key in idle:
            del self._counts[key]
        if len(self._counts) >= self.max_keys:
            self._counts.popitem(last=False)


def _keys(name: str, client: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("name", name.casefold()), ("client", client)
