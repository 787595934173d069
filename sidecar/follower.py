"""One Kubernetes object, kept current by a watch in a background thread.

The sidecar follows three objects this way: its own Node (the node source, always on spot),
its Deployment's Lease (while it stands by for a move in progress) and the Deployment itself
(always: a setting its user changes is seen at once, and a leader wakes on each change). A watch
costs one request for as long as the server keeps it open, where reading the object every few
seconds costs one request each time; and the main loop waits on a condition instead of a
socket, so a stop request ends a wait at once.

The first request of a watch starts from the object's current state (no ``resourceVersion``);
when the server ends it, the next resumes from the last version seen, and after an error (410
Gone, a dropped connection) it starts from the current state again, with a growing pause.

Versions are opaque, so a reader that has just written the object tells :meth:`Follower.expect`
the ``resourceVersion`` it wrote: watch events arrive in order, so from the event carrying that
version on (or from a restart at the current state, which comes after the write), every copy is
at least as new as the write, and until then :meth:`Follower.current` has none to offer.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Final

from sidecar.adapters.apiserver import JSON
from spot_common.api_errors import ApiError

log = logging.getLogger(__name__)

Watch = Callable[[str | None], Iterator[JSON]]
"""Starts one watch request: from a ``resourceVersion``, or (``None``) from the current state."""

RECENT_VERSIONS: Final = 64
"""Versions remembered, so a writer that asks after its own write's event arrived still finds it."""


def version_of(body: JSON) -> str | None:
    metadata = body.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return version if isinstance(version, str) else None


class Follower:
    """The latest copy of one object; a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        what: str,
        watch: Watch,
        *,
        retry_s: float = 1.0,
        max_retry_s: float = 60.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.what = what
        self._watch = watch
        self._retry_s, self._max_retry_s = retry_s, max_retry_s
        self._on_change = on_change or (lambda: None)
        self._changed = threading.Condition()
        self._latest: JSON | None = None
        self._count = 0
        self._recent: collections.deque[str] = collections.deque(maxlen=RECENT_VERSIONS)
        self._awaited: str | None = None
        """The version of this reader's own last write, until the watch has shown it."""
        self._expects = 0
        """How many writes were announced; a watch started after the last one lists a state
        at least as new as that write."""
        self._failed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"follow-{what}", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Follower:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end; a watch blocked on the network ends with the process."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    # --- reading ----------------------------------------------------------------------------

    @property
    def latest(self) -> JSON | None:
        with self._changed:
            return self._latest

    @property
    def changes(self) -> int:
        """How many copies have arrived; pass it to :meth:`wait_for_change`."""
        with self._changed:
            return self._count

    @property
    def failing(self) -> bool:
        """The last watch request failed (the copy, if any, may be stale)."""
        with self._changed:
            return self._failed

    def expect(self, version: str | None) -> None:
        """This reader just wrote the object at ``version``: until the watch has shown that
        write (or restarted from the current state since), :meth:`current` returns ``None``."""
        with self._changed:
            self._expects += 1
            self._awaited = None if version is None or version in self._recent else version

    def current(self) -> JSON | None:
        """The latest copy, unless it may predate the write passed to :meth:`expect`."""
        with self._changed:
            return None if self._awaited is not None else self._latest

    def wait_for_change(self, seen: int, timeout_s: float) -> bool:
        """Wait until more than ``seen`` copies have arrived, the follower stopped, or
        ``timeout_s`` passed; ``True`` if a copy arrived."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._count > seen or self._stop.is_set(), timeout=max(0.0, timeout_s)
            )
            return self._count > seen

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait for the first copy (or the first failure); ``True`` once there is a copy."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._count > 0 or self._failed or self._stop.is_set(),
                timeout=max(0.0, timeout_s),
            )
            return self._count > 0

    # --- the watch thread -------------------------------------------------------------------

    def _keep(self, body: JSON, *, fresh_after: int | None) -> None:
        """Keep ``body``; ``fresh_after``: it is the initial state of a watch started when
        that many writes had been announced."""
        with self._changed:
            version = version_of(body)
            if version == self._awaited or (
                fresh_after is not None and fresh_after >= self._expects
            ):
                self._awaited = None  # this is the write, or a state listed after it
            self._latest = body
            self._count += 1
            self._failed = False
            if version is not None:
                self._recent.append(version)
            self._changed.notify_all()
        self._on_change()

    def _run(self) -> None:
        version: str | None = None
        failures = 0
        while not self._stop.is_set():
            with self._changed:
                fresh_after = self._expects if version is None else None
            try:
                for body in self._watch(version):
                    if self._stop.is_set():
                        return
                    self._keep(body, fresh_after=fresh_after)
                    fresh_after = None
                    version = version_of(body) or version
                    failures = 0
            except ApiError as error:
                failures += 1
                version = None  # start again from the current state
                with self._changed:
                    self._failed = True
                    self._changed.notify_all()
                log.warning(
                    "watch failed",
                    extra={"object": self.what, "error": str(error), "failures": failures},
                )
                self._stop.wait(min(self._max_retry_s, self._retry_s * failures))
