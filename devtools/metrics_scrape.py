"""One scrape of a Prometheus endpoint, parsed with prometheus_client's own parser.

Tests and benchmarks that read a process's metrics read them as Prometheus would, from its
``/metrics`` text, rather than reaching into the process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import requests
from prometheus_client.parser import text_string_to_metric_families


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclasses.dataclass(frozen=True)
class Scrape:
    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        return cls(
            tuple(
                Sample(sample.name, dict(sample.labels), float(sample.value))
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            )
        )

    def value(self, name: str, **labels: str) -> float:
        """The sample ``name`` with exactly ``labels``; 0 when absent (a labelled counter has
        no sample before its first increment)."""
        for sample in self.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
        return 0.0

    def names(self) -> set[str]:
        return {sample.name for sample in self.samples}


def scrape(url: str, timeout_s: float = 5.0) -> Scrape:
    """GET ``url`` (a ``/metrics`` endpoint) and parse it."""
    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(url, timeout=timeout_s)
        answer.raise_for_status()
        return Scrape.parse(answer.text)
