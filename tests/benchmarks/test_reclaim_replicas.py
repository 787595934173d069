"""Live Ready replicas through a reclaim are counted from the pod watch, with the instance's
death at its deadline overriding what the API still says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from benchmarks import reclaim_replicas
from benchmarks.reclaim_replicas import Reclaim, Sighting

SPOT = "spot-a"
FARGATE = frozenset({"fargate-ip-1", "fargate-ip-2"})
RECLAIM = Reclaim(SPOT, deadline=120.0)


def on_spot(pod: str, at: float = -5.0) -> Sighting:
    return Sighting(at, pod, SPOT, ready=True)


def move_in_time() -> list[Sighting]:
    """Two replicas on the doomed node, replaced on Fargate at 62 s, old ones gone at 63 s."""
    return [
        on_spot("old-1"),
        on_spot("old-2"),
        Sighting(1.5, "new-1", None, ready=False),
        Sighting(1.6, "new-2", None, ready=False),
        Sighting(40.0, "new-1", "fargate-ip-1", ready=False),
        Sighting(41.0, "new-2", "fargate-ip-2", ready=False),
        Sighting(61.0, "new-1", "fargate-ip-1", ready=True),
        Sighting(62.0, "new-2", "fargate-ip-2", ready=True),
        Sighting(63.0, "old-1", SPOT, ready=False),
        Sighting(63.1, "old-1", SPOT, ready=False, exists=False),
        Sighting(63.2, "old-2", SPOT, ready=False),
        Sighting(63.3, "old-2", SPOT, ready=False, exists=False),
    ]


def lost_with_the_instance() -> list[Sighting]:
    """Kubernetes alone: the pods die at 120 s, the API notices at 170 s, they are replaced."""
    return [
        on_spot("old-1"),
        on_spot("old-2"),
        Sighting(170.0, "old-1", SPOT, ready=False),
        Sighting(170.0, "old-2", SPOT, ready=False),
        Sighting(180.0, "old-1", SPOT, ready=False, exists=False),
        Sighting(180.0, "old-2", SPOT, ready=False, exists=False),
        Sighting(180.5, "repl-1", "spot-b", ready=False),
        Sighting(180.5, "repl-2", "spot-b", ready=False),
        Sighting(181.0, "repl-1", "spot-b", ready=True),
        Sighting(182.0, "repl-2", "spot-b", ready=True),
    ]


def test_a_move_that_beats_the_deadline_never_drops_below_the_desired_replicas() -> None:
    assert reclaim_replicas.min_live_ready(move_in_time(), RECLAIM, until=200.0) == 2


def test_a_move_that_beats_the_deadline_leaves_nothing_on_the_instance() -> None:
    assert reclaim_replicas.pods_on_instance_at_deadline(move_in_time(), RECLAIM) == 0


def test_every_replica_is_ready_on_fargate_when_the_last_new_pod_is() -> None:
    ready = reclaim_replicas.all_ready_at(move_in_time(), RECLAIM, 2, where=FARGATE)

    assert ready == 62.0


def test_pods_the_api_still_calls_ready_are_dead_from_the_deadline_on() -> None:
    assert reclaim_replicas.min_live_ready(lost_with_the_instance(), RECLAIM, until=200.0) == 0


def test_the_baseline_counts_the_pods_it_loses_on_the_instance() -> None:
    assert reclaim_replicas.pods_on_instance_at_deadline(lost_with_the_instance(), RECLAIM) == 2


def test_the_baseline_is_whole_again_once_the_replacements_are_ready() -> None:
    ready = reclaim_replicas.all_ready_at(lost_with_the_instance(), RECLAIM, 2, after=120.0)

    assert ready == 182.0


def test_a_pod_being_deleted_does_not_count_as_ready_even_before_it_is_gone() -> None:
    sightings = [on_spot("a"), Sighting(10.0, "a", SPOT, ready=False)]

    assert reclaim_replicas.min_live_ready(sightings, RECLAIM, until=20.0) == 0


def test_a_replica_that_never_gets_ready_on_fargate_has_no_ready_time() -> None:
    sightings = [*move_in_time()[:6], Sighting(61.0, "new-1", "fargate-ip-1", ready=True)]

    assert reclaim_replicas.all_ready_at(sightings, RECLAIM, 2, where=FARGATE) is None


@given(
    st.lists(
        st.tuples(
            st.floats(0, 300),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([SPOT, "spot-b", "fargate-ip-1", None]),
            st.booleans(),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_the_live_count_is_the_api_count_less_the_reclaimed_instances_pods(
    events: list[tuple[float, str, str | None, bool, bool]],
) -> None:
    sightings = sorted((Sighting(*e) for e in events), key=lambda s: s.at)

    for moment, count in reclaim_replicas.curve(sightings, RECLAIM, until=300.0):
        ready = [
            s
            for s in reclaim_replicas.states_at(sightings, moment).values()
            if s.exists and s.ready and s.node
        ]
        dead = [s for s in ready if s.node == SPOT and moment >= RECLAIM.deadline]
        assert count == len(ready) - len(dead)


def test_a_trial_tells_its_figures() -> None:
    trial = reclaim_replicas.ReclaimTrial(2, move_in_time(), RECLAIM, until=200.0)

    assert trial.fargate_nodes() == FARGATE
    assert trial.min_live_ready_ratio() == 1.0
    assert trial.pods_on_instance_at_deadline() == 0
    assert trial.all_ready_on_fargate_s() == 62.0
    assert sorted(trial.fargate_starts_s()) == [59.5, 60.4]


def test_a_baseline_trial_is_whole_again_after_the_reclaim() -> None:
    trial = reclaim_replicas.ReclaimTrial(2, lost_with_the_instance(), RECLAIM, until=200.0)

    assert trial.min_live_ready_ratio() == 0.0
    assert trial.whole_again_s() == 182.0
    assert trial.all_ready_on_fargate_s() is None
