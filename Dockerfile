# The API and the RQ worker share this image; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY . /src
RUN pip install /src \
    && rm -rf /src \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

USER app
WORKDIR /home/app
EXPOSE 8000

# The serving settings (gevent worker, timeouts, limits, the redacting access log) are in
# coordination/gunicorn_conf.py, shared with make run and compose; the command adds the bind
# and the access log on stdout.
CMD ["gunicorn", "--config", "python:coordination.gunicorn_conf", "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-"]
