"""The webhook's pure core: every decision, as functions over plain data, with no I/O.

Objects come in as the Kubernetes API returns them (JSON, camelCase), time comes in as ``now``,
and what to do goes out as plain data. Only the standard library, :mod:`spot_common`,
``cryptography`` (which computes: it parses, signs and verifies) and this package are imported
here; ``.importlinter`` forbids kopf, the HTTP and Kubernetes clients, the adapters and the
shell, so every rule can be tested without a cluster, a server or a clock.

* :mod:`.selection` — which pods get the sidecar, or why not (reasons are metric labels).
* :mod:`.injection` — the pod with the sidecar added; :mod:`.injection_config` — what may be
  injected (image, resources, the sidecar's settings), checked once at start-up.
* :mod:`.review` — is this HTTP body an AdmissionReview we can answer, and the fail-open answer.
* :mod:`.owners` — the ReplicaSets and Deployments as the watches last saw them.
* :mod:`.rbac` — the Lease, Role and bindings an opted-in Deployment's sidecars need.
* :mod:`.missing_sidecars` — the pods that run without the sidecar, and the Event that says so.
* :mod:`.failover_states` — the opted-in Deployments counted by failover state.
* :mod:`.certificates` — the webhook's CA and serving certificate, issued and checked.
* :mod:`.errors` — the webhook's own errors.
"""
