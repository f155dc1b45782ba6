"""`kubectl get --watch` of the local cluster, its events collected in the background (what
LocalCluster.watch() yields), and what the tests read from them."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.cluster_pods import is_ready


@dataclass(frozen=True)
class WatchEvent:
    """One event of a `kubectl get --watch`, stamped with the monotonic time it was read."""

    type: str  # ADDED, MODIFIED, DELETED
    object: dict[str, Any]
    at: float

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.object["metadata"].get("uid", ""))

    @property
    def terminating(self) -> bool:
        """Deleted, or carrying a deletionTimestamp."""
        return self.type == "DELETED" or bool(self.object["metadata"].get("deletionTimestamp"))

    @property
    def ready(self) -> bool:
        return self.type != "DELETED" and is_ready(self.object)


class Watch:
    """The events of a running `kubectl get --watch --output-watch-events -o json`, in the order
    the API server sent them (one watch stream is ordered by resourceVersion)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._lock = threading.Lock()
        self._events: list[WatchEvent] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self._process.stdout:
            # One JSON document per event: a line each (kubectl 1.36), or indented over several.
            buffer += line
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break  # incomplete: read on
                buffer = buffer.lstrip()[end:]
                with self._lock:
                    self._events.append(WatchEvent(event["type"], event["object"], time.monotonic()))

    @property
    def events(self) -> list[WatchEvent]:
        with self._lock:
            return list(self._events)

    def wait_for(self, what: str, condition: Callable[[list[WatchEvent]], Any], timeout: float = 120.0) -> Any:
        """Wait until condition(events) is truthy; on timeout fail with the events seen so far."""
        deadline = time.monotonic() + timeout
        while True:
            ended = self._process.poll() is not None
            if ended:
                self._thread.join(timeout=10)  # every event the stream delivered is read
            value = condition(self.events)
            if value:
                return value
            if ended or time.monotonic() > deadline:
                log = "\n".join(f"  {e.type} {e.name} terminating={e.terminating} ready={e.ready}" for e in self.events)
                if ended:
                    error = self._process.stderr.read() if self._process.stderr else ""
                    stopped = f"the watch ended ({error.strip() or 'no error output'})"
                else:
                    stopped = f"timed out after {timeout:.0f}s"
                raise AssertionError(f"{stopped} waiting for {what}; events:\n{log}")
            time.sleep(0.05)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._thread.join(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


def scaled_to_zero_before_deleted(events: list[WatchEvent], name: str) -> bool:
    """The StatefulSet's watch shows spec.replicas 0, then status.replicas 0, then its deletion."""
    seen = [e for e in events if e.name == name]
    zero = next((i for i, e in enumerate(seen) if e.object["spec"].get("replicas") == 0), None)
    drained = next((i for i, e in enumerate(seen) if i >= (zero or 0) and not e.object["status"].get("replicas")), None)
    deleted = next((i for i, e in enumerate(seen) if e.type == "DELETED"), None)
    return None not in (zero, drained, deleted) and zero <= drained < deleted  # type: ignore[operator]
