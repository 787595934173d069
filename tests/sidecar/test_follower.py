"""Following one object: the latest copy, resuming watches, and reading after one's own write.

The watches here are scripted iterators (what a watch request yields), so the follower's rules
are pinned without a cluster; the cluster scenarios exercise it against the real API server.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from sidecar.adapters.apiserver import JSON
from sidecar.follower import Follower
from spot_common.api_errors import ServerError

END = object()
"""Scripted: the watch request ends (the server's timeout)."""


def obj(version: str, note: str = "") -> JSON:
    return {"metadata": {"name": "web", "resourceVersion": version}, "note": note}


class ScriptedWatches:
    """Each watch request takes items from one queue until END, or raises what it is given."""

    def __init__(self) -> None:
        self.items: queue.Queue[object] = queue.Queue()
        self.started_from: list[str | None] = []
        self.started = threading.Event()

    def __call__(self, version: str | None) -> Iterator[JSON]:
        self.started_from.append(version)
        self.started.set()
        while True:
            item = self.items.get()
            if item is END:
                return
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, dict)
            yield item

    def send(self, *items: object) -> None:
        for item in items:
            self.items.put(item)


def follow(watches: ScriptedWatches) -> Follower:
    """A follower of the scripted watches, not started yet (``with`` starts and stops it)."""
    return Follower("deployment web", watches, retry_s=0.01)


def test_the_latest_copy_is_kept_and_each_arrival_counts_as_a_change() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("1"))
        assert follower.wait_ready(5)
        seen = follower.changes

        watches.send(obj("2", "rolled"))

        assert follower.wait_for_change(seen, 5)
        assert follower.latest == obj("2", "rolled")


def test_a_wait_without_a_change_times_out_false() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("1"))
        follower.wait_ready(5)

        assert not follower.wait_for_change(follower.changes, 0.05)


def test_the_first_watch_starts_from_the_current_state_and_the_next_from_the_last_version() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("1"), obj("2"), END, obj("3"))
        follower.wait_ready(5)
        while follower.changes < 3:
            follower.wait_for_change(follower.changes, 5)

        assert watches.started_from == [None, "2"]


def test_after_a_failed_watch_it_starts_again_from_the_current_state() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("1"), ServerError("watch deployment web", "HTTP 500", 500), obj("7"))
        follower.wait_ready(5)
        while follower.changes < 2:
            follower.wait_for_change(follower.changes, 5)

        assert watches.started_from == [None, None]
        assert follower.latest == obj("7")
        assert not follower.failing


def test_after_its_own_write_a_reader_gets_no_copy_until_the_watch_shows_that_write() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("1"))
        follower.wait_ready(5)

        follower.expect("3")  # we wrote version 3; the watch has not shown it yet
        assert follower.current() is None
        seen = follower.changes
        watches.send(obj("2", "in flight before our write"))
        follower.wait_for_change(seen, 5)
        assert follower.current() is None

        seen = follower.changes
        watches.send(obj("3", "ours"))
        follower.wait_for_change(seen, 5)
        assert follower.current() == obj("3", "ours")


def test_a_write_the_watch_already_showed_is_no_reason_to_wait() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("5", "ours, delivered before we asked"))
        follower.wait_ready(5)

        follower.expect("5")

        assert follower.current() == obj("5", "ours, delivered before we asked")


def test_a_watch_restarted_after_the_write_lists_a_state_at_least_as_new() -> None:
    watches = ScriptedWatches()
    with follow(watches) as follower:
        watches.send(obj("1"))
        follower.wait_ready(5)
        follower.expect("4")

        seen = follower.changes
        watches.send(ServerError("watch", "HTTP 410", 410), obj("6", "listed after the write"))
        follower.wait_for_change(seen, 5)

        assert follower.current() == obj("6", "listed after the write")


def test_stopping_ends_a_wait_at_once() -> None:
    watches = ScriptedWatches()
    follower = follow(watches).start()
    watches.started.wait(5)
    threading.Timer(0.05, follower.stop).start()

    assert not follower.wait_for_change(0, 30)
    assert not follower.running
