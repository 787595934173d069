"""The sidecar's pure core: every decision, as functions over plain data, with no I/O.

Objects come in as the Kubernetes API returns them (JSON, camelCase), time comes in as ``now``,
and what to do goes out as frozen dataclasses. Only the standard library,
:mod:`spot_common.contract` and this package are imported here (an import-linter contract
forbids the rest), so every rule can be tested without a cluster, a network or a clock.

* :mod:`.machine` — :func:`~.machine.decide`: the migration workflow; built from
  :mod:`.transitions` (the table), :mod:`.steps` (what each state waits for, concluding with a
  :mod:`.moves` ``Stay`` or ``Move``; following a rollout in :mod:`.progress`, fitting a quota
  in :mod:`.quota`), :mod:`.inputs` (``Policy``, ``Facts``), :mod:`.actions` (what the shell
  runs) and :mod:`.annotations` (the durable state on the Deployment, with :mod:`.overrides`
  and :mod:`.history`).
* :mod:`.rollout` — is the rollout done (kubectl's rules), plus an overall deadline.
* :mod:`.health` — are the new pods ready on the expected compute.
* :mod:`.fargate_checks` — what Fargate cannot run, one named check per rule; :mod:`.fargate` —
  moving a pod template there, recorded by :mod:`.saved_scheduling`, and :mod:`.restore` —
  back, as a three-way merge that keeps what was written since;
  :mod:`.selectors` — what a label selector selects.
* :mod:`.failback` — when a Deployment on Fargate may move back.
* :mod:`.lease` — leader election decisions over a Lease; :mod:`.handoff` — who takes a move's
  Lease first, and when a release ends the move.
* :mod:`.wakeup` — when the loop reads its Deployment again, and how long it pauses.
* :mod:`.durations`, :mod:`.times`, :mod:`.objects` — parsing the values all of the above read.
* :mod:`.errors` — the typed errors, and what a caller should do about each.
* :mod:`.signals` — what signal sources (:mod:`sidecar.sources`) report; :mod:`.imds_body`,
  :mod:`.node_signal` — reading it from IMDS's answers and from the Node.
"""
