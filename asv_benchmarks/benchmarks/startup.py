"""Start-up cost: the first product in a fresh process, with the kernel cache present."""

import os
import subprocess
import sys

_CODE = """
import time
start = time.perf_counter()
import numpy as np, lazyconn
conn = lazyconn.JITCScalarR(10_000, 10_000, 0.01, 0.5, seed=1)
conn @ np.ones(10_000, dtype=np.float32)
print(time.perf_counter() - start)
"""


class FirstProduct:
    """Import plus first ``M @ y`` in a new interpreter (the Numba cache is warm)."""

    timeout = 300

    def setup(self):
        # Fill the on-disk cache once, so that the tracked run loads it.
        subprocess.run([sys.executable, "-c", _CODE], check=True, capture_output=True, env=dict(os.environ))

    def track_first_product_seconds(self):
        out = subprocess.run([sys.executable, "-c", _CODE], check=True, capture_output=True, text=True)
        return float(out.stdout.strip())

    track_first_product_seconds.unit = "seconds"

