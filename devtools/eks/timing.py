"""How long EKS Fargate takes to start a pod, chosen per run (development tooling).

On EKS a Fargate pod is Ready about a minute after it is created: 30-45 s until Fargate has a
node for it (the pod is bound then), then an uncached image pull and the container start.
:data:`REALISTIC` plays that for benchmarks and the EKS-timed demo; :data:`FAST` keeps the same
sequence (bind after a delay, Ready after another) in well under a second, for tests.

Each delay is ``base ± jitter`` drawn uniformly from a :class:`random.Random` seeded with
``seed``, so a run with the same seed and the same order of pods draws the same delays.
"""

from __future__ import annotations

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class FargateTiming:
    """Delays of a simulated Fargate start, in seconds."""

    provision_s: float
    """From the pod's creation until it is bound to its new node."""
    provision_jitter_s: float
    start_s: float
    """From binding until the pod is Running and Ready (image pull, container start)."""
    start_jitter_s: float
    seed: int | None = 0
    """Seed of the jitter; ``None``: a fresh random seed."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name != "seed" and value < 0:
                raise ValueError(f"{field.name} must not be negative, got {value}")
        if self.provision_jitter_s > self.provision_s or self.start_jitter_s > self.start_s:
            raise ValueError("a jitter larger than its delay would draw negative delays")

    def rng(self) -> random.Random:
        return random.Random(self.seed)  # noqa: S311 -- simulated delays, not secrets

    def draw(self, rng: random.Random) -> tuple[float, float]:
        """One pod's (provision, start) delays."""
        provision = self.provision_s + rng.uniform(-1, 1) * self.provision_jitter_s
        start = self.start_s + rng.uniform(-1, 1) * self.start_jitter_s
        return provision, start

    @property
    def typical_ready_s(self) -> float:
        """The median time from creation to Ready."""
        return self.provision_s + self.start_s


REALISTIC = FargateTiming(
    provision_s=37.5, provision_jitter_s=7.5, start_s=22.5, start_jitter_s=7.5
)
"""About 60 s to Ready (provisioning 30-45 s, then 15-30 s of pull and start)."""
FAST = FargateTiming(provision_s=0.2, provision_jitter_s=0.1, start_s=0.2, start_jitter_s=0.1)
"""Well under a second, for tests (which assert behaviour, never timing)."""
