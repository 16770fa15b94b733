#!/usr/bin/env bash
# Runs docker/entrypoint.sh as the container would (production settings, gunicorn) and checks that
# the health endpoint answers and the admin password is printed once.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
workdir=$(mktemp -d)
log="$workdir/entrypoint.log"

env -u CONSOLE_ADMIN_PASSWORD_BCRYPT \
  PYTHON=.venv/bin/python DEBUG=false CONSOLE_HTTPS=true COLLECTSTATIC=true \
  SECRET_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
  DATABASE_URL="sqlite:///$workdir/console.sqlite3" GUNICORN_BIND="127.0.0.1:$port" \
  GUNICORN_WORKERS=2 sh docker/entrypoint.sh >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$workdir"' EXIT

for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >"$workdir/health.json" 2>/dev/null; then break; fi
  sleep 0.5
done
cat "$workdir/health.json" && echo
grep -q '"status": "ok"' "$workdir/health.json" || { echo "health endpoint did not answer"; cat "$log"; exit 1; }
count=$(grep -c '^Admin password: ' "$log" || true)
[ "$count" = "1" ] || { echo "expected the admin password printed once, saw $count"; cat "$log"; exit 1; }
# Plain HTTP pages redirect to HTTPS under CONSOLE_HTTPS=true; the probe does not.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/signin/")
[ "$code" = "301" ] || { echo "expected an HTTPS redirect, got $code"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Proto: https' "http://127.0.0.1:$port/signin/")
[ "$code" = "200" ] || { echo "sign-in page behind TLS proxy answered $code"; cat "$log"; exit 1; }
echo "entrypoint check passed"
