#!/bin/sh
# Container (and CI) entrypoint: migrate, then serve with gunicorn. Same script in and out of Docker.
set -eu
PYTHON=${PYTHON:-python}
cd "$(dirname "$0")/.."

$PYTHON manage.py migrate --noinput -v 0
$PYTHON manage.py createcachetable
if [ "${COLLECTSTATIC:-false}" = "true" ]; then
  $PYTHON manage.py collectstatic --noinput -v 0
fi
exec $PYTHON -m gunicorn --config gunicorn.conf.py console.wsgi:application
