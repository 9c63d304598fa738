# Underwriting model service image.
#
#   docker build -t underwriting-model-service .
#   docker run -p 8080:8080 -p 8081:8081 underwriting-model-service
#
# Stages:
#   deps     a virtualenv with the serving dependencies only (`pip install .`, no extras: the
#            LiteRT runtime, no TensorFlow); the runtime stage copies it as is.
#   models   adds the `train` extra (TensorFlow, Keras, scikit-learn) on top of deps and trains
#            the default models, unless the build context's models/ already holds a version of
#            each (then those are used); publishes the shipped decision policy if none is there.
#   runtime  python:3.11-slim + Debian's nginx + the deps virtualenv + the models, as a non-root
#            user. `python -m service` runs nginx in front of gunicorn (service/front/) and
#            stops them in order on SIGTERM; it serves with SERVICE_RUNTIME=litert (the
#            tensorflow runtime needs the `tensorflow` extra).
#
# New model versions are deployed by mounting a model repository at /models (a volume): the
# service polls it and swaps to the highest complete version without a restart.

FROM python:3.11-slim AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so editing the code does not reinstall them:
# empty package directories give an installable distribution with the same dependency list.
COPY pyproject.toml README.md ./
RUN mkdir contract policy service scoring training \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir . \
    && rm -rf contract policy service scoring training build ./*.egg-info
COPY contract/ contract/
COPY policy/ policy/
COPY service/ service/
COPY scoring/ scoring/
COPY training/ training/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --force-reinstall . \
    && rm -rf build ./*.egg-info

FROM deps AS models
ENV TF_CPP_MIN_LOG_LEVEL=2 \
    TF_ENABLE_ONEDNN_OPTS=0 \
    MPLBACKEND=Agg
# Training-only dependencies (scikit-learn, matplotlib) go into this stage only.
RUN /opt/venv/bin/pip install --no-cache-dir ".[train]"
COPY models/ models/
RUN if ls models/risk_class/*/metadata.json >/dev/null 2>&1 \
        && ls models/max_coverage/*/metadata.json >/dev/null 2>&1; then \
        echo "models: using the trained versions from the build context"; \
    else \
        /opt/venv/bin/python -m training --models-dir models; \
    fi \
    && /opt/venv/bin/python -m policy publish --if-none --models-dir models \
    && find models -mindepth 2 -maxdepth 2 -name '.tmp-*' -exec rm -rf {} +

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="underwriting-model-service" \
      org.opencontainers.image.description="Life-insurance underwriting models (risk class, maximum coverage) over HTTP and gRPC"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc \
    SERVICE_PORT=8080 \
    SERVICE_GRPC_PORT=8081 \
    SERVICE_MODELS_DIR=/models \
    SERVICE_DECISIONS_DATABASE=/var/lib/underwriting/decisions.sqlite3
# The front: Debian's nginx, run by the service's user with its files under /tmp (the package's
# own service and logs are unused). Versions follow the base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
# A fixed numeric uid/gid so Kubernetes can verify runAsNonRoot.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app \
    && mkdir -p /tmp/prometheus-multiproc /var/lib/underwriting \
    && chown app:app /tmp/prometheus-multiproc /var/lib/underwriting
COPY --from=deps /opt/venv /opt/venv
# Root-owned and read-only for the service user: the service only reads the model repository.
COPY --from=models /src/models /models
# The decision records (SQLite) live on their own volume; set SERVICE_DECISIONS_DATABASE_URL to
# keep them in PostgreSQL instead (required when several pods serve).
VOLUME ["/models", "/var/lib/underwriting"]
WORKDIR /home/app
USER 10001:10001
EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SERVICE_PORT', '8080'), timeout=4)"]
# nginx on SERVICE_PORT, gunicorn behind it on a Unix socket; SIGTERM drains both, in order.
CMD ["python", "-m", "service"]
