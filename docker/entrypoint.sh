#!/bin/sh
# Container (and CI) entrypoint: migrate, then serve with gunicorn. Same script in and out of Docker.
# CONSOLE_MIGRATE: `true` (default) migrates and serves; `false` only serves (a migration Job or a
# one-shot service did it, so replicas do not race); `only` migrates and exits (that Job or service).
set -eu
PYTHON=${PYTHON:-python}
MIGRATE=${CONSOLE_MIGRATE:-true}
cd "$(dirname "$0")/.."

case "$MIGRATE" in
  true | only)
    $PYTHON manage.py migrate --noinput -v 0
    $PYTHON manage.py createcachetable
    ;;
  false) ;;
  *)
    echo "CONSOLE_MIGRATE is '$MIGRATE': set it to true (migrate, then serve), false (serve only) or only (migrate and exit)." >&2
    exit 2
    ;;
esac
if [ "$MIGRATE" = "only" ]; then
  exit 0
fi
if [ "${COLLECTSTATIC:-false}" = "true" ]; then
  $PYTHON manage.py collectstatic --noinput -v 0
fi
# No control socket (gunicorn >= 25 makes one in $HOME/.gunicorn): nothing here uses gunicornc, and
# the image's root filesystem may be read-only.
exec $PYTHON -m gunicorn --no-control-socket --config gunicorn.conf.py console.wsgi:application
