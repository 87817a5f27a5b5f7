"""Shared test configuration: the hypothesis profiles CI runs with."""

import os

from hypothesis import HealthCheck, settings

# CI: fixed examples (derandomized) and no per-example deadline on a busy 2-core machine.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
