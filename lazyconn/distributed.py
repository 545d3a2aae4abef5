"""Several devices of one host: one Dask worker per GPU.

Two ways to spread work over the GPUs (or CPU worker processes) of a host,
both on a ``dask.distributed`` cluster with one worker per device:

Products
    :func:`matmul` is :func:`lazyconn.dask.matmul` with each product task
    pinned to a worker: a task generates its window on the device of the
    worker it is pinned to, the partial outputs of a scatter are summed by
    Dask's tree reduction on the workers (consecutive operand chunks share a
    worker, so the first levels of the tree add on one device), and only the
    final blocks reach the client.  :func:`pin_blocks` pins the blocks of any
    Dask array (the operand, a ``to_dask`` matrix) the same way.
Simulations
    A Dask graph per time step costs the scheduler milliseconds every step,
    more than a whole step of a 10^6-neuron network on one GPU
    (``asv_benchmarks/distributed_step_overhead.py`` measures it).
    :class:`DistributedNetwork` instead keeps one Dask *actor* per worker
    for the whole run: :class:`NetworkBlock` owns a block of postsynaptic
    neurons (the columns ``[c0, c1)`` of the recurrent matrix, a window
    generated on its device) and their state; the client exchanges only the
    indices of the neurons that spiked, once per synaptic delay.

:func:`local_cluster` starts the cluster: one worker process per visible GPU,
each seeing only its own device (``CUDA_VISIBLE_DEVICES``; dask-cuda's
``LocalCUDACluster`` when it is installed), or CPU workers.

Notes
-----
Why the spikes are exact.  The delay ring of :func:`lazyconn.demo.simulate`
is kept per worker: a spike of step ``s`` reaches slot ``s % D`` and is read
at step ``s + D`` (``D`` steps of synaptic delay), so a worker can run up to
``D`` steps between exchanges without missing an input.  Every worker draws
the same full-length noise vector from the same seed and keeps its own
slice, and a column window of a product equals the same columns of the
whole product (the rows are generated in blocks along the columns, and the
spike rows are added in the same order), so ``N`` steps on ``K`` workers
give the spikes of the one-process loop, bit for bit, on the CPU.  On GPUs
this holds where products are deterministic
(``lazyconn.set_options(deterministic=True)``, forwarded to the workers).
"""

from __future__ import annotations

import itertools
import math
import os
import time

import numpy as np

from . import _lif

try:
    import dask
    import distributed
except ImportError as exc:
    raise ImportError(
        "lazyconn.distributed needs Dask's distributed scheduler: pip install 'lazyconn[dask]'"
    ) from exc

__all__ = [
    "DistributedNetwork",
    "NetworkBlock",
    "compute",
    "local_cluster",
    "matmul",
    "pin_blocks",
    "simulate",
    "visible_devices",
    "worker_addresses",
]


# ------------------------------------------------------------------ clusters
def visible_devices():
    """CUDA devices this process may give to workers, as ``CUDA_VISIBLE_DEVICES`` entries.

    ``CUDA_VISIBLE_DEVICES`` when it is set (an empty value hides every
    device; the list stops at a negative entry, as CUDA's does), else one
    entry per device CuPy finds.  No device (or no CuPy): an empty list.

    Returns
    -------
    list of str
    """
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        devices = []
        for entry in listed.split(","):
            entry = entry.strip()
            if not entry or entry.startswith("-"):
                break
            devices.append(entry)
        return devices
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except (ImportError, RuntimeError, OSError):  # no CuPy, driver or device: no GPU to give out
        return []
    return [str(i) for i in range(count)]


def _gpu_worker_specs(devices, threads_per_worker):
    """``SpecCluster`` worker specs: one Nanny per device, each seeing that device alone."""
    return {
        f"gpu-{device}": {
            "cls": distributed.Nanny,
            "options": {
                "nthreads": threads_per_worker,
                # Set in the worker process before anything starts CUDA there,
                # so the worker's device 0 is this device.
                "env": {"CUDA_VISIBLE_DEVICES": str(device)},
                "resources": {"GPU": 1},
                "dashboard": False,
            },
        }
        for device in devices
    }


def local_cluster(n_workers=None, *, device="auto", devices=None, threads_per_worker=1, processes=True,
                  use_dask_cuda=True, **kwargs):
    """A cluster on this host with one worker per GPU, or CPU workers.

    Parameters
    ----------
    n_workers : int, optional
        Workers to start.  GPU: default one per device of ``devices``, at
        most that many.  CPU: default 2, worker processes sharing the cores
        out for Numba (``NUMBA_NUM_THREADS``) unless ``env`` is given.
    device : {"auto", "gpu", "cpu"}
        ``"gpu"``: one worker process per device, each with
        ``CUDA_VISIBLE_DEVICES`` set to its device alone and a ``GPU``
        resource of 1.  ``"cpu"``: a ``LocalCluster``.  ``"auto"``: GPU
        workers when a device is visible, else CPU workers.
    devices : list of str or int, optional
        The devices to use (``CUDA_VISIBLE_DEVICES`` entries); default
        :func:`visible_devices`.
    threads_per_worker : int
        Threads of each worker (1 suits a GPU: its kernels do the parallel
        work).
    processes : bool
        Worker processes (required for GPU workers) or threads of this
        process (CPU only; cheap to start, for tests).
    use_dask_cuda : bool
        For GPU workers, use dask-cuda's ``LocalCUDACluster`` when it is
        installed (it also sets up CUDA memory pools and UCX, if asked).
    **kwargs
        Passed to the cluster class (``dashboard_address``, ``silence_logs``, ...).

    Returns
    -------
    distributed.deploy.Cluster
        Use as ``with local_cluster() as cluster, Client(cluster) as client:``.

    Raises
    ------
    RuntimeError
        If ``device="gpu"`` and no device is visible.
    ValueError
        For an unknown ``device``, more GPU workers than devices, or GPU
        workers without processes.
    """
    if device not in ("auto", "gpu", "cpu"):
        raise ValueError(f"device must be 'auto', 'gpu' or 'cpu', got {device!r}")
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    kwargs.setdefault("dashboard_address", None)
    if device != "cpu":
        found = list(visible_devices() if devices is None else devices)
        if device == "auto" and not found:
            device = "cpu"
        elif not found:
            raise RuntimeError(
                "device='gpu' found no visible CUDA device (CUDA_VISIBLE_DEVICES, CuPy); "
                "run `lazyconn info`, or pass device='cpu' for CPU workers"
            )
        else:
            device = "gpu"
    if device == "cpu":
        n_workers = 2 if n_workers is None else n_workers
        if processes and "env" not in kwargs:
            # Numba's kernels would each start a thread per core: share the cores out instead.
            kwargs["env"] = {"NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // n_workers))}
        return distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes, **kwargs,
        )
    if n_workers is None:
        n_workers = len(found)
    if n_workers > len(found):
        raise ValueError(
            f"{n_workers} GPU workers need {n_workers} devices, found {len(found)} ({','.join(map(str, found))}); "
            f"pass n_workers <= {len(found)}, or device='cpu' for CPU workers"
        )
    if not processes:
        raise ValueError("GPU workers need processes=True: each sets CUDA_VISIBLE_DEVICES before CUDA starts")
    found = [str(d) for d in found[:n_workers]]
    if use_dask_cuda:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            pass
        else:
            return LocalCUDACluster(CUDA_VISIBLE_DEVICES=found, threads_per_worker=threads_per_worker, **kwargs)
    address = kwargs.pop("dashboard_address")
    scheduler = {"cls": distributed.Scheduler,
                 "options": {"dashboard": address is not None, "dashboard_address": address}}
    return distributed.SpecCluster(
        workers=_gpu_worker_specs(found, threads_per_worker), scheduler=scheduler, **kwargs
    )


def worker_addresses(client):
    """Addresses of the client's workers, in the order of their names.

    With :func:`local_cluster` that is the order of the devices (names
    ``gpu-0``, ``gpu-1``, ... or ``0``, ``1``, ...): block ``b`` of ``K``
    pinned with these goes to the ``b * K // n``-th device.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.

    Returns
    -------
    list of str
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]

    def order(address):
        name = str(workers[address].get("name", address))
        digits = name.rpartition("-")[2]
        return (0, int(digits), name) if digits.isdigit() else (1, 0, name)

    return sorted(workers, key=order)


# ------------------------------------------------------------------ products
class _Pin:
    """Annotation callable: the worker of a key of one layer, by one block index.

    Block ``b`` of ``n_blocks`` goes to ``workers[b * K // n_blocks]``:
    contiguous runs of blocks share a worker, so the first levels of a tree
    reduction over them add on one device.  Keys of other layers get None
    (no restriction).
    """

    def __init__(self, name, position, n_blocks, workers):
        self.name, self.position, self.n_blocks, self.workers = name, position, n_blocks, tuple(workers)

    def worker_of(self, block):
        return self.workers[block * len(self.workers) // self.n_blocks]

    def __call__(self, key):
        if not isinstance(key, tuple) or key[0] != self.name:
            return None
        return [self.worker_of(key[self.position])]


def _check_workers(workers):
    if isinstance(workers, str):
        workers = [workers]
    workers = list(workers)
    if not workers or not all(isinstance(w, str) for w in workers):
        raise ValueError(
            f"workers must be a non-empty list of worker addresses, got {workers!r}; "
            "use lazyconn.distributed.worker_addresses(client)"
        )
    return workers


def _pin_layer(array, name, position, workers):
    """Annotate layer ``name`` of ``array``'s graph: its tasks run on ``workers`` by block."""
    layer = array.dask.layers[name]
    n_blocks = 1 + max(key[position] for key in layer)
    layer.annotations = {**(layer.annotations or {}), "workers": _Pin(name, position, n_blocks, workers),
                         "allow_other_workers": False}
    return array


def pin_blocks(array, workers, axis=0):
    """Pin the blocks of a Dask array to workers, by block index along ``axis``.

    Block ``b`` of the ``n`` blocks along ``axis`` runs on
    ``workers[b * K // n]`` (``K`` workers), whatever its index along the
    other axes; tasks of the layers below it are left to the scheduler.
    Use it to generate an operand where the product tasks of :func:`matmul`
    will read it, or to place the blocks of ``to_dask``.

    Parameters
    ----------
    array : dask.array.Array
        Changed in place (its last layer's annotations) and returned.
    workers : list of str
        Worker addresses, e.g. :func:`worker_addresses`.
    axis : int
        Axis whose block index chooses the worker.

    Returns
    -------
    dask.array.Array

    Raises
    ------
    ValueError
        For an empty ``workers`` list or an ``axis`` out of range.
    """
    workers = _check_workers(workers)
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"axis {axis} is out of range for a {array.ndim}-D array")
    return _pin_layer(array, array.name, 1 + axis % array.ndim, workers)


def _per_worker_chunks(conn, x, right, n_workers):
    """Output chunks of a gather: one block per worker, or a multiple of that count
    of blocks each under Dask's ``array.chunk-size`` (float64 sized)."""
    outer = conn.shape[0] if right else conn.shape[1]
    free = 1 if x.ndim == 1 else x.shape[1 if right else 0]
    limit = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
    lines_per_block = max(1, limit // (max(free, 1) * 8))
    n_blocks = n_workers * math.ceil(math.ceil(outer / n_workers) / lines_per_block)
    return max(1, math.ceil(outer / n_blocks))


def matmul(a, b, workers, *, chunks=None, split_every=None):
    """:func:`lazyconn.dask.matmul` with every product task pinned to a worker.

    Scatters (``x @ R``, ``BinaryArray(s) @ R``, ``C @ x``) pin the task of
    operand chunk ``j`` of ``n`` to ``workers[j * K // n]`` -- where
    :func:`pin_blocks` of the operand along its contracted axis puts that
    chunk -- and Dask's tree reduction sums the partial outputs on the
    workers.  Gathers (``R @ y``, ``x @ C``) pin output block ``i`` of ``n``
    to ``workers[i * K // n]``; the operand (one chunk along the contracted
    axis) is copied once to each worker.  The values are those of the same
    graph without pins, bit for bit: pinning moves tasks, never changes a sum.

    Parameters
    ----------
    a, b : JITCMatrix, dask.array.Array or BinaryArray
        As in :func:`lazyconn.dask.matmul`.
    workers : list of str
        Worker addresses (:func:`worker_addresses`), one per device.
    chunks : None, "auto", int or tuple of int, optional
        Output chunking along the matrix axis that survives, as in
        :func:`lazyconn.dask.matmul`.  Default None: a gather gets one
        block per worker (a multiple of that where a block would pass
        Dask's ``array.chunk-size``) -- a task costs the scheduler about a
        millisecond, so a GPU wants few large ones; a scatter keeps
        ``"auto"`` (its work is split by the operand's chunks).
    split_every : int, optional
        As in :func:`lazyconn.dask.matmul`.

    Returns
    -------
    dask.array.Array

    Raises
    ------
    TypeError, ValueError
        As :func:`lazyconn.dask.matmul`, and for an empty ``workers`` list.

    Examples
    --------
    >>> import dask.array as da, lazyconn
    >>> from lazyconn.distributed import matmul
    >>> conn = lazyconn.JITCScalarR(1000, 400, prob=0.1, weight=0.5, seed=0)
    >>> y = matmul(conn, da.ones(400, chunks=400), ["tcp://a:1", "tcp://b:2"], chunks=250)
    >>> y.chunks
    ((250, 250, 250, 250),)
    """
    from .dask import _is_matrix
    from .dask import matmul as dask_matmul
    from .events import BinaryArray
    from .products import as_view

    workers = _check_workers(workers)
    right = _is_matrix(a)
    other = b if right else a
    operand = other.data if isinstance(other, BinaryArray) else other
    if chunks is None:
        chunks = "auto"
        if right != _is_matrix(b) and hasattr(operand, "ndim"):
            conn = a if right else b
            if not as_view(conn).scatters("right" if right else "left"):
                chunks = _per_worker_chunks(conn, operand, right, len(workers))
    product = dask_matmul(a, b, chunks=chunks, split_every=split_every)
    # The one product layer this call added (the operand may hold others).
    name, = (n for n in product.dask.layers
             if n.startswith(("jitc-scatter-", "jitc-product-")) and n not in operand.dask.layers)
    if name.startswith("jitc-scatter-"):
        position = 1  # (name, j, ...): operand chunk j
    else:
        # Output block i: (name, i) and (name, i, c) for conn @ x, (name, c, i) for x @ conn.
        position = 1 if right else product.ndim
    return _pin_layer(product, name, position, workers)


def compute(client, *arrays, sync=True):
    """Compute Dask arrays on ``client`` with their pins (no low-level fusion).

    Dask's low-level task fusion renames the tasks it fuses and drops their
    annotations, so the pins of :func:`matmul` and :func:`pin_blocks` hold
    only in graphs computed without it: this is
    ``client.compute(arrays, optimize_graph=False)``.  (Computed with
    fusion, the values are the same; the scheduler then places the tasks.)

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    *arrays : dask.array.Array
        Arrays to compute together (one graph).
    sync : bool
        Return the results (True, default) or futures.

    Returns
    -------
    list
        One result (or future) per array.
    """
    return client.compute(list(arrays), optimize_graph=False, sync=sync)


# --------------------------------------------------------------- simulations
def _column_bounds(n, parts):
    """``parts`` contiguous ``(c0, c1)`` blocks of ``range(n)``, sizes differing by at most one."""
    return list(itertools.pairwise(n * k // parts for k in range(parts + 1)))


class NetworkBlock:
    """One worker's share of the demo network: postsynaptic neurons ``[c0, c1)``.

    Made on a worker as a Dask actor by :class:`DistributedNetwork`.  It
    holds the columns ``[c0, c1)`` of the recurrent matrix (a lazy window of
    ``np.vstack([conn_exc, conn_inh])``, generated on this worker's device
    at each product), the potentials, refractory counters and delay ring of
    its neurons, and the noise generator of the whole network (it draws
    every neuron's noise and keeps its own, so its neurons see the noise of
    the one-process loop).

    Parameters
    ----------
    conn_exc, conn_inh : JITCMatrix
        The projections of :func:`lazyconn.demo.build_network`.
    derived : dict
        From :func:`lazyconn.demo.derive_network`.
    params : NetworkParameters
        Neuron and synapse parameters.
    seed : int
        Seed of the initial potentials and the noise, as in
        :func:`lazyconn.demo.simulate`.
    c0, c1 : int
        The block of neurons this worker owns.
    device : {"cpu", "gpu"}
        NumPy state and Numba kernels, or CuPy state on the worker's device 0.
    options : dict, optional
        :func:`lazyconn.set_options` to apply in the worker (e.g.
        ``deterministic``).
    """

    def __init__(self, conn_exc, conn_inh, derived, params, seed, c0, c1, device="cpu", options=None):
        from .config import set_options
        from .events import BinaryArray

        if options:
            set_options(**options)
        if device == "gpu":
            import cupy as xp
        else:
            xp = np
        self._xp, self._binary = xp, BinaryArray
        self._n = derived["n_exc"] + derived["n_inh"]
        self._c0, self._c1 = c0, c1
        self._weights = np.vstack([conn_exc, conn_inh])[:, c0:c1]
        self._lif = lif = _lif._LIFConstants.of(derived, params)
        self._rng = xp.random.default_rng(seed)
        self._v = _lif._initial_potentials(derived, lif, self._rng, self._n, xp)[c0:c1].copy()
        self._refractory = xp.zeros(c1 - c0, dtype=xp.int16)
        self._pending = _lif._initial_inputs(derived, params, lif, c1 - c0, xp)
        self._t = 0
        self._owed = 0  # steps whose spikes the next call must bring
        # Compile (Numba) or load (CUDA) the product kernels before the clock starts.
        warm = xp.zeros(self._n, dtype=bool)
        warm[0] = warm[-1] = True
        self._binary(warm) @ self._weights

    def memory(self):
        """Bytes of this block's state.

        Returns
        -------
        int
            Potentials, refractory counters and the delay ring.
        """
        return int(self._v.nbytes + self._refractory.nbytes + self._pending.nbytes)

    def advance(self, counts, indices, n_steps):
        """Take in the last steps' spikes, then run ``n_steps`` steps.

        Parameters
        ----------
        counts : numpy.ndarray of int
            Spikes of each step since the last call (as many steps as that
            call ran; none on the first call), all neurons.
        indices : numpy.ndarray of int
            Their neuron indices, step after step.
        n_steps : int
            Steps to run, at most the delay in steps (an input sent at step
            ``s`` is read at ``s + delay``).

        Returns
        -------
        counts, indices : numpy.ndarray
            The spikes of this block's neurons in each step run (indices in
            the whole network), on the host.
        """
        xp, lif = self._xp, self._lif
        if len(counts) != self._owed:
            raise ValueError(f"expected the spikes of {self._owed} steps, got {len(counts)}")
        if not 1 <= n_steps <= lif.delay_steps:
            raise ValueError(f"n_steps must be in [1, {lif.delay_steps}] (the delay in steps), got {n_steps}")
        indices = xp.asarray(indices)
        start = 0
        for s, count in zip(range(self._t - self._owed, self._t), counts):
            spikes = xp.zeros(self._n, dtype=bool)
            spikes[indices[start:start + int(count)]] = True
            start += int(count)
            # The product of step s, read at step s + delay: the same slot and
            # the same columns as the one-process loop's pending[s % delay].
            self._pending[s % lif.delay_steps] = self._binary(spikes) @ self._weights
        fired = xp.zeros((n_steps, self._c1 - self._c0), dtype=bool)
        for k, t in enumerate(range(self._t, self._t + n_steps)):
            normals = self._rng.standard_normal(self._n, dtype=xp.float32)[self._c0:self._c1]
            self._v, self._refractory, fired[k] = _lif._lif_step(
                self._v, self._refractory, normals, self._pending[t % lif.delay_steps], lif, xp
            )
        self._t += n_steps
        self._owed = n_steps
        # One nonzero for all the steps: on a GPU, one synchronisation per call.
        steps, columns = (_to_host(a) for a in xp.nonzero(fired))
        return np.bincount(steps, minlength=n_steps).astype(np.int64), columns.astype(np.int64) + self._c0


def _to_host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


class DistributedNetwork:
    """The demo's E/I network stepped on persistent workers, one block of neurons each.

    Each worker holds a :class:`NetworkBlock` actor for the whole run; a
    call of :meth:`run` sends each the spikes of the last exchange and gets
    back its own, so only spike indices cross between workers and no task
    graph is built per step.  The spikes equal those of
    :func:`lazyconn.demo.simulate` with the same arguments (see the module
    notes for GPUs).

    Parameters
    ----------
    client : distributed.Client
        The cluster's client; the blocks' actors live on its workers.
    conn_exc, conn_inh : JITCMatrix
        From :func:`lazyconn.demo.build_network`.
    derived : dict
        From :func:`lazyconn.demo.derive_network`.
    params : NetworkParameters, optional
        As in :func:`lazyconn.demo.simulate` (default: the demo's).
    seed : int
        As in :func:`lazyconn.demo.simulate`.
    workers : list of str, optional
        One block per worker, in this order (default:
        :func:`worker_addresses`, every worker of the client).
    device : {"cpu", "gpu"}
        Where each block keeps its state and runs its products.

    Raises
    ------
    ValueError
        For more workers than neurons, or an unknown ``device``.
    """

    def __init__(self, client, conn_exc, conn_inh, derived, params=None, seed=0, workers=None, device="cpu"):
        from .config import get_options

        if device not in ("cpu", "gpu"):
            raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
        params = _lif.NetworkParameters() if params is None else params
        workers = worker_addresses(client) if workers is None else _check_workers(workers)
        self.n_exc, self.n_inh = derived["n_exc"], derived["n_inh"]
        n = self.n_exc + self.n_inh
        if len(workers) > n:
            raise ValueError(f"{len(workers)} workers for {n} neurons: use at most {n} workers")
        self.delay_steps = _lif._LIFConstants.of(derived, params).delay_steps
        self.bounds = _column_bounds(n, len(workers))
        self.workers = workers
        futures = [
            client.submit(NetworkBlock, conn_exc, conn_inh, derived, params, seed, c0, c1, device, get_options(),
                          workers=[worker], allow_other_workers=False, actor=True, pure=False)
            for worker, (c0, c1) in zip(workers, self.bounds)
        ]
        self.blocks = client.gather(futures)
        self._futures = futures  # the actors live while their futures do
        self._last = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self.t = 0

    def memory(self):
        """Bytes of neuron state on each worker.

        Returns
        -------
        list of int
            :meth:`NetworkBlock.memory` of each block, in worker order.
        """
        return [block.memory().result() for block in self.blocks]

    def run(self, n_steps, exchange_every=None):
        """Step the network ``n_steps`` times from where it stands.

        Parameters
        ----------
        n_steps : int
            Steps to run; a later call goes on from the last step.
        exchange_every : int, optional
            Steps each worker runs between two exchanges of spikes, from 1
            to the delay in steps (default: the delay: one exchange per
            delay, the fewest round trips; smaller values only add them).

        Returns
        -------
        list of numpy.ndarray
            The indices of the neurons that spiked at each step, ascending.

        Raises
        ------
        ValueError
            If ``exchange_every`` is not in ``[1, delay_steps]``.
        """
        every = self.delay_steps if exchange_every is None else exchange_every
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= self.delay_steps:
            raise ValueError(
                f"exchange_every must be an integer in [1, {self.delay_steps}] (the delay in steps), got {every!r}"
            )
        spikes = []
        done = 0
        while done < n_steps:
            k = min(every, n_steps - done)
            calls = [block.advance(self._last[0], self._last[1], k) for block in self.blocks]
            parts = [call.result() for call in calls]
            # Blocks are contiguous and in order: joining them keeps every step ascending.
            counts = np.sum([c for c, _ in parts], axis=0)
            split = [np.split(i, np.cumsum(c)[:-1]) for c, i in parts]
            steps = [np.concatenate([per_block[s] for per_block in split]) for s in range(k)]
            spikes.extend(steps)
            self._last = (counts, np.concatenate(steps))
            done += k
        self.t += n_steps
        return spikes


def simulate(conn_exc, conn_inh, derived, n_steps, seed=0, params=None, *, client=None, n_workers=2, device="cpu",
             n_record=500, exchange_every=None, progress=True):
    """:func:`lazyconn.demo.simulate` on ``n_workers`` workers, one block of neurons each.

    Parameters
    ----------
    conn_exc, conn_inh, derived, n_steps, seed, params, n_record
        As in :func:`lazyconn.demo.simulate`.
    client : distributed.Client, optional
        Run on its workers (``n_workers`` is then ignored).  Default: a
        :func:`local_cluster` of ``n_workers`` workers on ``device``,
        closed at the end.
    n_workers : int
        Workers of the cluster started here: GPUs for ``device="gpu"``.
    device : {"cpu", "gpu"}
    exchange_every : int, optional
        As in :meth:`DistributedNetwork.run`.
    progress : bool
        Show a tqdm progress bar (on stderr) when tqdm is installed.

    Returns
    -------
    dict
        The keys of :func:`lazyconn.demo.simulate` (the same spikes), and
        ``n_workers`` and ``state_bytes`` (neuron state per worker).

    Raises
    ------
    RuntimeError, ValueError
        As :func:`local_cluster` and :class:`DistributedNetwork`.
    """
    import contextlib
    import sys

    params = _lif.NetworkParameters() if params is None else params
    with contextlib.ExitStack() as stack:
        if client is None:
            cluster = stack.enter_context(local_cluster(n_workers, device=device, silence_logs=40))
            client = stack.enter_context(distributed.Client(cluster))
        network = DistributedNetwork(client, conn_exc, conn_inh, derived, params, seed, device=device)
        n_exc, n_inh = network.n_exc, network.n_inh
        n_rec_exc, n_rec_inh = _lif._recorded_counts(n_exc, n_inh, n_record)
        recorded = np.concatenate([np.arange(n_rec_exc), n_exc + np.arange(n_rec_inh)])
        raster = np.zeros((n_steps, recorded.size), dtype=bool)
        counts = np.zeros((n_steps, 2), dtype=np.int32)
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=n_steps, desc=f"{n_exc + n_inh:,} neurons on {len(network.workers)} workers",
                           unit="step", file=sys.stderr, mininterval=0.5)
            except ImportError:
                pass
        chunk = network.delay_steps * 20  # steps between progress updates
        start = time.perf_counter()
        t = 0
        while t < n_steps:
            for k, fired in enumerate(network.run(min(chunk, n_steps - t), exchange_every), start=t):
                raster[k] = np.isin(recorded, fired, assume_unique=True)
                excitatory = int(np.searchsorted(fired, n_exc))
                counts[k] = excitatory, fired.size - excitatory
            t = network.t
            if bar is not None:
                bar.update(t - bar.n)
        wall = time.perf_counter() - start
        if bar is not None:
            bar.close()
        state_bytes = network.memory()
    return {"raster": raster, "counts": counts, "wall_s": wall, "n_rec_exc": n_rec_exc, "n_rec_inh": n_rec_inh,
            "n_workers": len(state_bytes), "state_bytes": state_bytes}
