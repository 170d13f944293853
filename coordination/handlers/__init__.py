"""Command handlers: one shared shape (``base``), one module per aggregate, and the watchers (the
only handlers that read projections: deadline watch, lease expiry, claim-next)."""
