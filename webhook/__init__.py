"""The spot-failover admission webhook: injects the sidecar, provisions its RBAC, reports misses.

The same rooms as the sidecar's:

* :mod:`webhook.core` — every decision, pure: which pods, the injected pod and its
  configuration, its JSON patch, is this an AdmissionReview and its answer, the owner cache,
  the sidecar's RBAC objects, which pods miss the sidecar, the failover-state figures, the
  certificates to issue.
* :mod:`webhook.adapters` — the Kubernetes API client: typed calls, their failures mapped onto
  :mod:`spot_common.api_errors`, and the certificates' Secrets.
* the shell, here: :mod:`~webhook.server` (HTTPS, the reviews) with :mod:`~webhook.intake`
  (what a body may cost) and :mod:`~webhook.serving`, :mod:`~webhook.tls` (certificate reload),
  :mod:`~webhook.admission` (one pod, fail open), :mod:`~webhook.lookup` (cache misses),
  :mod:`~webhook.rbac_controller`, :mod:`~webhook.reporter`, :mod:`~webhook.operator` (kopf: the
  watches and their handlers), :mod:`~webhook.app` (one process), :mod:`~webhook.health`,
  :mod:`~webhook.metrics`, :mod:`~webhook.settings`, :mod:`~webhook.bootstrap` (the certificate
  Job) and ``__main__``.

``.importlinter`` holds the core off kopf, the HTTP and Kubernetes clients and the rest of the
webhook, and the webhook apart from the sidecar (what both use is :mod:`spot_common`).
"""
