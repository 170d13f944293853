"""Open311 reads: discovery, services, service definitions, requests, tokens."""
