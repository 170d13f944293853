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

CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-class", "gthread", \
     "--threads", "8", "--graceful-timeout", "5", "--access-logfile", "-", \
     "coordination.api.app:create_app()"]
