"""Hypothesis profiles of the fuzz tests (tests/test_fuzz_forms.py, tests/test_fuzz_spec.py).

`make test` and CI run the small profile: a few dozen examples per target, so the suite stays
fast. `HYPOTHESIS_PROFILE=nightly` (bench/fuzz_nightly.sh) runs at least 1,000 per target.
`FUZZ_EXAMPLES=N` sets another number for one run.

Under CI (the `CI` variable, as .ci/run sets it) the small profile is derandomized, as
Hypothesis' own `ci` profile is, so a CI run is repeatable; elsewhere each run draws new
examples. No example database is kept: a failure prints the example and a `@reproduce_failure`
blob to run it again.
"""

import os

from hypothesis import HealthCheck, Phase, settings

SMALL = "fuzz"
NIGHTLY = "fuzz-nightly"
SMALL_EXAMPLES = 30
NIGHTLY_EXAMPLES = 1_000

settings.register_profile(
    SMALL,
    max_examples=SMALL_EXAMPLES,
    deadline=None,  # a request can take a second (1 MB fields, the sandbox over HTTP)
    derandomize=bool(os.environ.get("CI")),
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # fixtures are reset per example by the test
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
    # The explain phase reruns a failure many times over; shrinking already gives a small one.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile(
    NIGHTLY,
    parent=settings.get_profile(SMALL),
    max_examples=NIGHTLY_EXAMPLES,
    derandomize=False,
)


def fuzz_profile(share: float = 1.0) -> settings:
    """The profile a fuzz test runs with: nightly when HYPOTHESIS_PROFILE=nightly, else small;
    FUZZ_EXAMPLES overrides the number of examples. `share`: a part of the small profile's
    examples for cheaper targets (the nightly profile always runs all of them)."""
    nightly = os.environ.get("HYPOTHESIS_PROFILE") in ("nightly", NIGHTLY)
    profile = settings.get_profile(NIGHTLY if nightly else SMALL)
    examples = os.environ.get("FUZZ_EXAMPLES", "")
    if examples.isdigit() and int(examples) > 0:
        return settings(profile, max_examples=int(examples))
    if not nightly and share < 1.0:
        return settings(profile, max_examples=max(1, round(SMALL_EXAMPLES * share)))
    return profile
