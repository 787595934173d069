"""Fixtures for the end-to-end scenarios: the same scenario as the sidecar's cluster tests
(the real webhook, one sidecar process per pod, the IMDS simulator), from tests/sidecar."""

from __future__ import annotations

from tests.sidecar.conftest import MakeFailover, failover, make_failover

__all__ = ["MakeFailover", "failover", "make_failover"]
