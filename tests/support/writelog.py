"""A client that writes continuously while a test disturbs a server ensemble, and what it saw.

The store-specific part is one `write(n)` call (a Redis SET, a ZooKeeper create) that returns the
key it wrote once the server acknowledged it; an exception of the store's transient kinds counts as
an error and the writer goes on with the next key, as an application would. A test then checks every
acknowledged key is still there (`WriteLog.keys`) and how long writes stalled (`longest_gap`).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, Self, TypeVar

from tests.support.polling import wait_until


@dataclass
class WriteLog:
    """What a ContinuousWriter saw: every acknowledged key with the time of its acknowledgement."""

    acked: list[tuple[str, float]]
    errors: int

    def keys(self) -> list[str]:
        return [key for key, _ in self.acked]

    def longest_gap(self, start: float = -math.inf, end: float = math.inf) -> float:
        """The longest time (seconds) between two consecutive acknowledged writes, over the whole
        log, or over the writes around [start, end] (monotonic times): the last write before the
        window, those inside it and the first after it, so a stall spanning a window edge counts."""
        times = [t for _, t in self.acked]
        first = max((i for i, t in enumerate(times) if t < start), default=0)
        last = min((i for i, t in enumerate(times) if t > end), default=len(times) - 1)
        return max((b - a for a, b in itertools.pairwise(times[first : last + 1])), default=0.0)


Log = TypeVar("Log", bound=WriteLog)


class ContinuousWriter(ABC, Generic[Log]):
    """Writes key after key in a thread, every `pause` seconds, until the `with` block ends.

    Subclasses say how to write (`write`), which exceptions mean "not acknowledged, go on"
    (`transient`) and what to drop after one (`reset`, e.g. a client bound to a failed server)."""

    transient: ClassVar[tuple[type[BaseException], ...]]
    log_type: type[Log]
    pause = 0.005
    backoff = 0.05

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._acked: list[tuple[str, float]] = []
        self._errors = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    @abstractmethod
    def write(self, n: int) -> str:
        """Write entry `n` and return its key once the server acknowledged it."""

    def reset(self) -> None:
        """Called after a transient error, and once at the end."""

    def __enter__(self) -> Self:
        self._thread.start()
        wait_until("the first acknowledged write", lambda: self._acked, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def log(self) -> Log:
        return self.log_type(acked=list(self._acked), errors=self._errors)

    def _run(self) -> None:
        for n in itertools.count():
            if self._stop.is_set():
                break
            try:
                key = self.write(n)
            except self.transient:
                self._errors += 1
                self.reset()
                time.sleep(self.backoff)
                continue
            self._acked.append((key, time.monotonic()))
            time.sleep(self.pause)
        self.reset()
