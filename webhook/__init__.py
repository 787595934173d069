"""The spot-failover admission webhook: injects the sidecar, provisions its RBAC, reports misses.

Pure core (no I/O): :mod:`~webhook.selection` (which pods), :mod:`~webhook.injection` (the
injected pod), :mod:`~webhook.patch`, :mod:`~webhook.review` (is this an AdmissionReview?),
:mod:`~webhook.owners` (the owner cache), :mod:`~webhook.rbac` (the sidecar's RBAC objects),
and the pure halves of :mod:`~webhook.reporter` and :mod:`~webhook.certs`.

Shell: :mod:`~webhook.server` (HTTPS, in front of kopf), :mod:`~webhook.tls` (certificate
reload), :mod:`~webhook.admission` (one pod, fail open), :mod:`~webhook.lookup` (cache misses),
:mod:`~webhook.rbac_controller`, :mod:`~webhook.reporter`, :mod:`~webhook.kube` (API calls,
typed by :mod:`~webhook.errors`), :mod:`~webhook.operator` (kopf wiring), :mod:`~webhook.app`
(one process), :mod:`~webhook.health`, :mod:`~webhook.metrics`, :mod:`~webhook.settings`,
:mod:`~webhook.logs` and ``__main__``.

From the sidecar, only :mod:`spot_common.contract` is imported (import-linter enforces it).
"""
