"""What the sidecar, the webhook and the command share, kept once: the contract (annotation keys,
environment variable names, state values, derived names), the tree of Kubernetes API errors,
and the JSON log set-up.

It imports nothing of the three programs and no third-party library but the JSON log
formatter, so each program can import it without taking another's dependencies.
"""
