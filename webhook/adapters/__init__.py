"""The webhook's I/O: the Kubernetes API client and the mapping of its failures."""
