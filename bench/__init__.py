"""``python -m bench``: throughput and latency of POST /incidents against a trivial baseline.

Everything runs on this machine: a private valkey server, the API and a trivial Flask app under
gunicorn, and load generators in separate processes. See ``python -m bench --help``.
"""
