# One image for every Python process of the stack: the gateway, the four demo services
# and their Celery workers. docker-compose.yml picks the command and working directory.
#   docker build -t edge-gateway .
# Slim Debian base, dependencies in their own layer (rebuilt only when pyproject.toml
# changes), the code after it, a non-root user, the production ASGI server as entrypoint.
FROM python:3.12.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json \
    PYTHONPATH=/app

WORKDIR /app

# Dependency layer: only pyproject.toml, so code edits keep the cache.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md ./
COPY gateway ./gateway
COPY observability ./observability
COPY demo_services ./demo_services
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /tmp/gateway-metrics && chown app /tmp/gateway-metrics

USER app
EXPOSE 8000

# The gateway by default (uvicorn with httptools, several workers; see gateway/cli.py).
# Demo services override the command with granian in docker-compose.yml.
ENTRYPOINT []
CMD ["python", "-m", "gateway", "serve", "--config", "gateway/demo/gateway.yaml", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
