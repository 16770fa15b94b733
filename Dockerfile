# ClearML Tenant Console: gunicorn on a slim Python image, running as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=false \
    GUNICORN_BIND=0.0.0.0:8000

WORKDIR /app
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify the user (deploy/helm sets 10001).
RUN groupadd --system --gid 10001 console \
    && useradd --system --uid 10001 --gid console --home-dir /app console

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=console:console . .
# collectstatic needs a SECRET_KEY to load settings; this build-time value is never used at run time.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var && chown -R console:console /app/var

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["/app/docker/entrypoint.sh"]
