"""What static/js/live.js does with events, in Python, for the resync tests.

It keeps the ids it has handled, drops ones seen before, and after a
reconnect asks GET /api/v1/events?after=<resume point>, where the resume point
trails the newest event seen by RESYNC_OVERLAP (crisis/live/dashboard.py).
"""

from __future__ import annotations

import threading
from datetime import datetime

import requests

from crisis.live.dashboard import RESYNC_OVERLAP


class Follower:
    def __init__(self, base_url: str, headers: dict, resume_after: int = 0) -> None:
        self.base_url = base_url
        self.headers = headers
        self.resume_after = resume_after
        self.handled: list[int] = []  # in the order handled; each id once
        self.dropped = 0  # events that arrived again (live and by catching up)
        self.fetched_after: list[tuple[int, list[int]]] = []  # (after, ids the server returned)
        self._seen: dict[int, datetime] = {}
        self._newest: datetime | None = None
        self._lock = threading.Lock()

    def handle(self, event: dict) -> bool:
        occurred = datetime.fromisoformat(event["occurred_at"])
        with self._lock:
            if event["id"] in self._seen:
                self.dropped += 1
                return False
            self._seen[event["id"]] = occurred
            self.handled.append(event["id"])
            if self._newest is None or occurred > self._newest:
                self._newest = occurred
            horizon = self._newest - RESYNC_OVERLAP
            trailing = [i for i, at in self._seen.items() if at <= horizon]
            if trailing:
                self.resume_after = max(self.resume_after, max(trailing))
            return True

    def catch_up(self) -> list[int]:
        """Fetch what was missed; the ids newly handled."""
        new: list[int] = []
        after = self.resume_after
        while True:
            response = requests.get(f"{self.base_url}/api/v1/events", params={"after": after, "limit": 50},
                                    headers=self.headers, timeout=10)
            response.raise_for_status()
            body = response.json()
            ids = [e["id"] for e in body["items"]]
            self.fetched_after.append((after, ids))
            new.extend(e["id"] for e in body["items"] if self.handle(e))
            if not body["has_more"] or not ids:
                return new
            after = ids[-1]
