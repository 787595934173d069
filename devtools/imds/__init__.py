"""A simulator of the EC2 instance metadata service for development and tests; never shipped.

See :mod:`devtools.imds.simulator` for what it serves and :mod:`devtools.imds.control` for its
JSON control API; ``python -m devtools.imds --help`` runs it standalone.
"""

from devtools.imds.node import FaultKind, RequestRecord
from devtools.imds.simulator import ImdsSimulator

__all__ = ["FaultKind", "ImdsSimulator", "RequestRecord"]
