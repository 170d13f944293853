"""``python -m bench``: throughput and latency of POST /incidents against a trivial baseline,
then the read side (bench.readside): projector throughput against a naive one-job-per-event
projector, and how fresh the queue projection is under load with a real RQ worker.

Everything runs on this machine: private valkey servers, the API and a trivial Flask app under
gunicorn, RQ workers, and load generators in separate processes. See ``python -m bench --help``.
"""
