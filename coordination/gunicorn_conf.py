"""How the API is served under gunicorn: ``gunicorn -c python:coordination.gunicorn_conf``.

One place for ``make run``, the image and compose, so that all three serve alike.
"""

bind = "127.0.0.1:8000"
workers = 2
# Threads: a dashboard stream (server-sent events) holds one while it lasts.
worker_class = "gthread"
threads = 8
# Open streams would hold a graceful stop for 30 s; 5 s is enough for the rest.
graceful_timeout = 5
wsgi_app = "coordination.api.app:create_app()"
