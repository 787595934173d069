"""The failover states of the opted-in Deployments, counted: what the alerts on failed and overdue
moves read."""

from __future__ import annotations

import dataclasses
import datetime as dt

from spot_common import contract
from webhook.core.failover_states import STATES, summarize
from webhook.core.owners import DeploymentFacts, deployment_facts

T0 = dt.datetime(2026, 1, 2, 15, 0, tzinfo=dt.UTC)


def facts(
    name: str, state: str = "", since: dt.datetime | None = None, *, enabled: str = "true"
) -> DeploymentFacts:
    annotations = {contract.ENABLED: enabled}
    if state:
        annotations[contract.STATE] = state
    if since is not None:
        annotations[contract.LAST_TRANSITION] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return deployment_facts(
        {"metadata": {"name": name, "namespace": "shop", "annotations": annotations}}
    )


def test_opted_in_deployments_are_counted_by_state_and_every_state_is_always_present() -> None:
    summary = summarize(
        [
            facts("a"),
            facts("b", "Watching", T0),
            facts("c", "RolledBack", T0),
            facts("d", "Failed", T0),
            facts("e", "Failed", T0),
            facts("off", "Failed", T0, enabled="false"),
        ]
    )

    assert summary.deployments == {
        **dict.fromkeys(STATES, 0),
        "Unknown": 0,
        "Watching": 2,
        "RolledBack": 1,
        "Failed": 2,
    }
    assert summary.unsettled_since == {}


def test_the_oldest_transition_into_each_unsettled_state_is_reported() -> None:
    later = T0 + dt.timedelta(minutes=3)
    summary = summarize(
        [
            facts("a", "Migrating", later),
            facts("b", "Migrating", T0),
            facts("c", "FailingBack", later),
            facts("d", "OnFargate", T0 - dt.timedelta(hours=1)),
        ]
    )

    assert summary.unsettled_since == {
        "Migrating": T0.timestamp(),
        "FailingBack": later.timestamp(),
    }


def test_an_unreadable_state_or_time_is_counted_but_never_breaks_the_scrape() -> None:
    broken = dataclasses.replace(facts("a", "Migrating"), last_transition="yesterday")
    naive = dataclasses.replace(facts("b", "Migrating"), last_transition="2026-01-02T15:00:00")
    summary = summarize([facts("c", "Sideways"), broken, naive])

    assert summary.deployments["Unknown"] == 1
    assert summary.deployments["Migrating"] == 2
    assert summary.unsettled_since == {}
