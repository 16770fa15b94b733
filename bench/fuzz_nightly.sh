#!/usr/bin/env bash
# Nightly fuzzing: every form (tests/test_fuzz_forms.py) and every SPEC field
# (tests/test_fuzz_spec.py) with the nightly profile, at least 1,000 examples per target
# (tests/hypothesis_profiles.py), then the figures: targets, examples run (fewest per target,
# total), CPU and wall time, the slowest single request or plan, and the failures.
#
#   bash bench/fuzz_nightly.sh                       # both modules, 1,000 examples per target
#   bash bench/fuzz_nightly.sh -k routing            # extra arguments go to pytest
#   FUZZ_EXAMPLES=5000 bash bench/fuzz_nightly.sh    # another number of examples
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/fuzz bash bench/fuzz_nightly.sh
#
# Not run by `make test` or CI (they run the small profile). Exits with pytest's status. A
# failure prints its smallest example and a @reproduce_failure line to run it again.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
export HYPOTHESIS_PROFILE=nightly
stats="$(mktemp "${TMPDIR:-/tmp}/fuzz-stats.XXXXXX")"
report="$(mktemp "${TMPDIR:-/tmp}/fuzz-report.XXXXXX")"
trap 'rm -f "$stats" "$report"' EXIT
export FUZZ_STATS="$stats"

started=$(date +%s)
"$PYTHON" -m pytest tests/test_fuzz_forms.py tests/test_fuzz_spec.py \
  -p no:randomly -q -rf --junitxml="$report" "$@"
status=$?
elapsed=$(($(date +%s) - started))

"$PYTHON" - "$stats" "$report" "$elapsed" <<'PY'
import json
import sys
import xml.etree.ElementTree as ET

stats_path, report_path, elapsed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(line) for line in open(stats_path, encoding="utf-8") if line.strip()]
failed = []
try:
    for case in ET.parse(report_path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
except (OSError, ET.ParseError):
    failed.append("(no test report: pytest did not finish)")

fuzzed = [r for r in rows if r["examples"] > 1]
print()
print("== fuzz figures")
print(f"targets fuzzed:           {len(fuzzed)} (and {len(rows) - len(fuzzed)} single checks)")
if fuzzed:
    fewest = min(fuzzed, key=lambda r: r["examples"])
    print(f"examples run:             {sum(r['examples'] for r in rows):,} in all; fewest "
          f"{fewest['examples']:,} ({fewest['test'].split('::')[-1]})")
    slowest = max(rows, key=lambda r: r["slowest_cpu_seconds"])
    print(f"slowest example:          {slowest['slowest_cpu_seconds']:.2f} s CPU "
          f"({slowest['test'].split('::')[-1]})")
print(f"CPU in the examples:      {sum(r['cpu_seconds'] for r in rows):,.0f} s")
print(f"wall time:                {elapsed // 60} min {elapsed % 60} s")
print(f"failures:                 {len(failed)}")
for name in failed:
    print(f"  {name}")
heavy = sorted(rows, key=lambda r: r["wall_seconds"], reverse=True)[:5]
if heavy:
    print("longest targets (wall):")
    for r in heavy:
        print(f"  {r['wall_seconds']:8.1f} s  {r['examples']:6,} examples  {r['test'].split('::')[-1]}")
PY
exit $status
