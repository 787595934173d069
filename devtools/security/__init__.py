"""Security tooling: spot-failover's identities tried as an attacker would, and the manifests
scanned (development tooling; ``make audit``, tests/webhook/test_escalation.py and
tests/webhook/test_manifest_scan.py)."""
