"""How gunicorn serves the API (see coordination/gunicorn_conf.py): a gevent worker whose own
errors are JSON, an access log without token secrets, and a request body deadline.

Nothing here imports Flask or Redis at module level: gunicorn's master imports the worker and
logger classes before it forks, and the gevent worker monkey-patches only in the child.
"""
