import os

from hypothesis import HealthCheck, settings

# JIT compilation makes first calls slow: no deadlines.  CI is derandomised so
# a red run can be reproduced exactly.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("LAZYCONN_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
