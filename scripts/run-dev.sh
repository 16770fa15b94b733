#!/bin/sh
# `make run`: the sandbox apiserver, the console and its background worker, on loopback,
# stopped together.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8008}

key=$($PYTHON -c 'import secrets,string; print("".join(secrets.choice(string.ascii_uppercase+string.digits) for _ in range(30)))')
secret=$($PYTHON -c 'import secrets; print(secrets.token_urlsafe(45))')

# The key and secret travel in the environment, never on a command line (`ps` shows those).
SANDBOX_KEY="$key" SANDBOX_SECRET="$secret" $PYTHON manage.py sandbox_apiserver \
  --host 127.0.0.1 --port "$SANDBOX_PORT" --state-file var/sandbox-state.json &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null || true; rm -f var/sandbox.env' EXIT INT TERM

# var/sandbox.env below tells the command line the sandbox is there: wait until it answers.
$PYTHON - "$SANDBOX_PORT" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 60
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the sandbox apiserver did not start within 60 s")
        time.sleep(0.1)
PY

export CLEARML_API_URL="http://127.0.0.1:$SANDBOX_PORT"
export CLEARML_API_KEY="$key"
export CLEARML_API_SECRET="$secret"
# The sandbox also stands in for ClearML's metering service (usage reports), with the same key.
export CLEARML_METERING_URL="$CLEARML_API_URL/metering" CLEARML_METERING_KEY="$key" CLEARML_METERING_SECRET="$secret"
# For the command line in another terminal: manage.py reads this file when nothing else names
# an apiserver (mode 0600: it holds the sandbox's secret).
(umask 077 && printf 'CLEARML_API_URL=%s\nCLEARML_API_KEY=%s\nCLEARML_API_SECRET=%s\nCLEARML_METERING_URL=%s\nCLEARML_METERING_KEY=%s\nCLEARML_METERING_SECRET=%s\n' \
  "$CLEARML_API_URL" "$key" "$secret" "$CLEARML_METERING_URL" "$key" "$secret" > var/sandbox.env)
# The background worker (docs/worker.md): background applies, the scheduled refresh and drift.
$PYTHON manage.py worker --verbosity 0 &
worker_pid=$!
trap 'kill $worker_pid 2>/dev/null || true; kill $sandbox_pid 2>/dev/null || true; rm -f var/sandbox.env' EXIT INT TERM
echo "Sandbox apiserver: $CLEARML_API_URL"
echo "Console: http://127.0.0.1:$PORT/  (user name: admin); background worker running"
echo "Command line: in another terminal, .venv/bin/python manage.py plan spec.yaml talks to this"
echo "  sandbox (its address and key are in var/sandbox.env while make run runs)."
$PYTHON manage.py runserver "127.0.0.1:$PORT"
