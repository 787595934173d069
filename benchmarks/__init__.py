"""``make bench``: measured figures for speed, memory and API load (development tooling).

Each benchmark runs against the local control plane with sidecars as real processes, writes
its figures into ``benchmarks/results/latest.json`` (a flat object: metric name → number) and
``BENCHMARKS.md`` is regenerated from them. Nothing here is asserted; it is measured.
"""
