"""Benchmark: how fast hostile YAML is refused (issue 14: "in under a second").

    .venv/bin/python bench/hostile_yaml.py

Times `plan` of SPECs built to hurt a YAML loader — a billion-laughs variant (300,000 aliases, and
40 nested anchors standing for 2**40 values), 5,000 nested brackets, and a 10 MiB file at the size
limit — from reading the file to the refusal, and prints the CPU time and peak memory of each.
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")


def cases() -> dict[str, str]:
    nested = ["version: 1", "tenants:", '  - name: &a0 "lol"']
    nested += [f"    x{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    many = "version: 1\na: &x [1, 2, 3]\nb: [" + ", ".join(["*x"] * 300_000) + "]\n"
    big = "version: 1\ntenants:\n" + "".join(
        f"  - {{name: T{i}, admins: [{{name: A, email: a{i}@t{i}.example}}]}}\n"
        for i in range(150_000)
    )
    return {
        "300,000 aliases": many,
        "2**40 values through 40 anchors": "\n".join(nested) + "\n",
        "5,000 nested brackets": "version: 1\ntenants: " + "[" * 5000 + "]" * 5000 + "\n",
        f"{len(big) / 2**20:.1f} MiB, 150,000 tenants (budget check only)": big,
    }


def main() -> int:
    import django

    django.setup()
    from console.spec import parse_spec_text
    from console.validation import InvalidInput
    from console.yaml_budget import YamlBudgetExceeded, check_yaml_budget

    for name, text in cases().items():
        started, cpu = time.perf_counter(), time.process_time()
        try:
            if "budget check only" in name:
                check_yaml_budget(text, "spec.yaml")
                outcome = "passes the budget"
            else:
                parse_spec_text(text, "spec.yaml")
                outcome = "ACCEPTED"
        except (InvalidInput, YamlBudgetExceeded) as exc:
            outcome = "refused: " + str(getattr(exc, "errors", [exc])[0])[:70]
        took = time.perf_counter() - started
        print(f"{name:48s} {took:6.2f} s wall, {time.process_time() - cpu:6.2f} s CPU  {outcome}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    tempfile.tempdir = tempfile.mkdtemp(prefix="bench-yaml-")
    sys.exit(main())
