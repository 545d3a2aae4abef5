"""The deterministic ``exp`` (LogNormal weights): NumPy and Numba twins, one thread.

Inputs are LogNormal arguments ``mu + sigma * z`` (mu = 0, sigma = 1);
``np.exp`` (platform, not deterministic) is the yardstick.  Per value:
divide a timing by ``N``.
"""

import numpy as np

from lazyconn._exp import exp
from lazyconn.kernels._cpu_exp import exp_array

N = 1_000_000


class TimeExp:
    """``exp`` of ``N`` float64 values."""

    def setup(self):
        self.x = np.random.default_rng(20240601).normal(0.0, 1.0, N)
        self.out = np.empty_like(self.x)
        exp_array(self.x, self.out)  # compile (or load) before timing

    def time_numpy_twin(self):
        exp(self.x)

    def time_numba_twin(self):
        exp_array(self.x, self.out)

    def time_platform_np_exp(self):
        np.exp(self.x, out=self.out)
