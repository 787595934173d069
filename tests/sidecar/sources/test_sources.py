"""The seam every signal source fits: polled in order, the first interruption wins and the
sources after it are not asked; a weaker signal (a rebalance recommendation, a voluntary
disruption) gives way to an interruption a later source sees."""

from __future__ import annotations

from datetime import UTC, datetime

from sidecar.core.signals import Interruption, Kind, Source
from sidecar.sources import PollContext, first_signal

NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
CONTEXT = PollContext(on_fargate=False, wanted=frozenset({Kind.INTERRUPTION}))


class Scripted:
    """A source that answers what it is given and counts its polls."""

    def __init__(self, kind: str, answer: Interruption | None) -> None:
        self.kind = kind
        self.answer = answer
        self.polls: list[tuple[datetime, PollContext]] = []

    def poll(self, now: datetime, context: PollContext) -> Interruption | None:
        self.polls.append((now, context))
        return self.answer


def notice(source: Source, kind: Kind = Kind.INTERRUPTION) -> Interruption:
    return Interruption("spot-0", source, kind, NOW)


def test_without_sources_there_is_no_signal() -> None:
    assert first_signal([], NOW, CONTEXT) is None


def test_every_source_is_asked_with_now_and_the_context_while_none_sees_a_signal() -> None:
    sources = [Scripted("a", None), Scripted("b", None)]

    assert first_signal(sources, NOW, CONTEXT) is None
    assert [source.polls for source in sources] == [[(NOW, CONTEXT)], [(NOW, CONTEXT)]]


def test_the_first_source_that_sees_a_signal_wins_and_the_later_ones_are_not_asked() -> None:
    imds = Scripted("imds", notice(Source.IMDS_INSTANCE_ACTION))
    node = Scripted("node", notice(Source.NODE_TAINT))

    signal = first_signal([imds, node], NOW, CONTEXT)

    assert signal == notice(Source.IMDS_INSTANCE_ACTION)
    assert node.polls == []


def test_a_later_source_speaks_when_the_earlier_ones_say_nothing() -> None:
    node = Scripted("node", notice(Source.NODE_DELETION))

    assert first_signal([Scripted("imds", None), node], NOW, CONTEXT) == node.answer


def test_an_interruption_a_later_source_sees_wins_over_an_earlier_weaker_signal() -> None:
    imds = Scripted("imds", notice(Source.IMDS_REBALANCE, Kind.REBALANCE))
    events = Scripted("karpenter", notice(Source.NODE_EVENT))

    assert first_signal([imds, events], NOW, CONTEXT) == events.answer


def test_among_weaker_signals_the_stronger_kind_wins_then_the_earlier_source() -> None:
    rebalance = Scripted("imds", notice(Source.IMDS_REBALANCE, Kind.REBALANCE))
    disrupted = Scripted("node", notice(Source.NODE_TAINT, Kind.DISRUPTION))
    deleted = Scripted("later", notice(Source.NODE_DELETION, Kind.DISRUPTION))

    assert first_signal([rebalance, disrupted, deleted], NOW, CONTEXT) == disrupted.answer
    assert first_signal([rebalance, Scripted("none", None)], NOW, CONTEXT) == rebalance.answer
