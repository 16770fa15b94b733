#!/bin/sh
# `make run`: the sandbox apiserver and the console, both on loopback, stopped together.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8008}

key=$($PYTHON -c 'import secrets,string; print("".join(secrets.choice(string.ascii_uppercase+string.digits) for _ in range(30)))')
secret=$($PYTHON -c 'import secrets; print(secrets.token_urlsafe(45))')

$PYTHON manage.py sandbox_apiserver --host 127.0.0.1 --port "$SANDBOX_PORT" \
  --key "$key" --secret "$secret" --state-file var/sandbox-state.json &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null || true' EXIT INT TERM

export CLEARML_API_URL="http://127.0.0.1:$SANDBOX_PORT"
export CLEARML_API_KEY="$key"
export CLEARML_API_SECRET="$secret"
echo "Sandbox apiserver: $CLEARML_API_URL"
echo "Console: http://127.0.0.1:$PORT/  (user name: admin)"
$PYTHON manage.py runserver "127.0.0.1:$PORT"
