"""DEC in NumPy, every seed of the ensemble trained at once: the CPU default.

The same algorithm as :mod:`vo_ocml.membership.dec_model` (Xie, Girshick & Farhadi 2016; the
DEC thesis, shared SCIENCE.md §2): a dense autoencoder pretrained on the scaled features (mean
squared error, Adam), K-Means in its latent space for the initial centres μ_j, then the encoder
and the centres trained to minimise KL(P‖Q) between the Student-t soft assignment
q_ij ∝ (1 + ‖z_i − μ_j‖²)⁻¹ and the sharpened target p_ij ∝ q_ij² / f_j, the target refreshed
every ``update_interval`` batches on the rows those batches use, until fewer than ``tol`` of
the hard assignments of a fixed subsample change (a seed that has converged keeps the state it
had then).

Why NumPy: the networks hold a few thousand weights over 3–5 features, so a batch is a
handful of tiny matrix products and the cost is the per-operation overhead. Here the S seeds'
networks are stacked (weights of shape (S, in, out), batched matrix products), so one pass of
Python overhead trains the whole ensemble; all parameters live in one flat buffer, so an Adam
step is six vector operations. Importing TensorFlow alone takes 12–18 s on the shared 2-core
machine, longer than a whole fit here. Float64, bit-for-bit reproducible.

The KL gradient is the DEC paper's (its eqs. 4–5 with α = 1):
∂L/∂z_i = 2 Σ_j (1 + ‖z_i − μ_j‖²)⁻¹ (p_ij − q_ij)(z_i − μ_j), ∂L/∂μ_j = −the same summed over i.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from vo_ocml.membership.dec_model import KMEANS_ROWS, DecRun, batch_rows, target_distribution

log = logging.getLogger(__name__)

#: rows per chunk when encoding the whole table
ENCODE_CHUNK = 65536
#: rows on which the fraction of changed assignments is measured between target refreshes
CHECK_ROWS = 20000
#: Adam's moment decay rates and denominator floor (the Keras defaults, as in the TF backend)
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-7


def _forward(layers: list, relu: list[bool], x: np.ndarray) -> list[np.ndarray]:
    """Activations of every layer (the input first); weights (S, in, out), x (S, B, in)."""
    acts = [x]
    for (W, b), r in zip(layers, relu):
        h = acts[-1] @ W + b
        acts.append(np.maximum(h, 0.0) if r else h)
    return acts


def _backward(layers: list, relu: list[bool], acts: list[np.ndarray], grad: np.ndarray) -> list[np.ndarray]:
    """Gradients [dW0, db0, dW1, db1, …] (per seed) given ∂L/∂(output)."""
    grads: list[np.ndarray] = []
    for i in range(len(layers) - 1, -1, -1):
        if relu[i]:
            grad = grad * (acts[i + 1] > 0.0)
        grads[:0] = [np.swapaxes(acts[i], 1, 2) @ grad, grad.sum(axis=1, keepdims=True)]
        if i:
            grad = grad @ np.swapaxes(layers[i][0], 1, 2)
    return grads


def _soft(z: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student-t soft assignment q (S, B, k), its unnormalised kernel and z_i − μ_j (S, B, k, L)."""
    diff = z[:, :, None, :] - centres[:, None, :, :]
    kernel = 1.0 / (1.0 + np.einsum("sbkl,sbkl->sbk", diff, diff))
    return kernel / kernel.sum(axis=2, keepdims=True), kernel, diff


class _Stack:
    """The S seeds' parameters in one flat buffer, with (S, …)-shaped views and Adam on it."""

    def __init__(self, shapes: list[tuple[int, ...]], n_seeds: int, learning_rate: float) -> None:
        sizes = [n_seeds * int(np.prod(s)) for s in shapes]
        self.flat = np.zeros(sum(sizes))
        offsets = np.cumsum([0, *sizes])
        self.views = [self.flat[a:b].reshape(n_seeds, *s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes)]
        self.lr = learning_rate
        self.m = np.zeros_like(self.flat)
        self.v = np.zeros_like(self.flat)
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        """One Adam step; ``grads`` matches ``views`` in order and shape."""
        g = np.concatenate([a.ravel() for a in grads])
        self.t += 1
        scale = self.lr * np.sqrt(1.0 - ADAM_BETA2**self.t) / (1.0 - ADAM_BETA1**self.t)
        self.m *= ADAM_BETA1
        self.m += (1.0 - ADAM_BETA1) * g
        self.v *= ADAM_BETA2
        self.v += (1.0 - ADAM_BETA2) * g * g
        self.flat -= scale * self.m / (np.sqrt(self.v) + ADAM_EPSILON)


class NumpyDecTrainer:
    """DEC on one scaled feature table, every seed of an ensemble trained together (NumPy).

    Parameters
    ----------
    Z : ndarray, shape (m, d)
        Scaled features of the rows to cluster.
    n_clusters : int
        Number of groups k.
    hidden : tuple of int
        Widths of the encoder's hidden layers (the decoder mirrors them).
    latent_dim : int
        Width of the latent space.
    batch_size : int
        Rows per batch (both phases).
    learning_rate : float
        Adam learning rate (both phases).
    """

    def __init__(self, Z: np.ndarray, n_clusters: int, *, hidden: tuple[int, ...], latent_dim: int,
                 batch_size: int, learning_rate: float) -> None:
        self.data = np.asarray(Z, dtype=np.float64)
        self.m, d = self.data.shape
        self.k = n_clusters
        self.batch_size = min(batch_size, self.m)
        self.learning_rate = learning_rate
        widths = [d, *hidden, latent_dim, *reversed(hidden), d]
        self.shapes = list(zip(widths[:-1], widths[1:]))
        self.n_encoder = len(hidden) + 1
        self.latent_dim = latent_dim
        # ReLU everywhere but the latent layer and the reconstruction
        self.relu = [i not in (self.n_encoder - 1, len(self.shapes) - 1) for i in range(len(self.shapes))]

    def _batches(self, rngs: list[np.random.Generator], n_steps: int) -> np.ndarray:
        """(n_steps, S, B) row indices: per seed, successive random permutations of all rows."""
        return np.stack([batch_rows(rng, self.m, n_steps, self.batch_size) for rng in rngs], axis=1)

    def _encode(self, encoder: list, rows: np.ndarray | None = None, seed: int | None = None) -> np.ndarray:
        """Latent positions (S, r, L) of ``rows`` (all rows when None), in chunks; one seed if given."""
        relu = self.relu[: self.n_encoder]
        if seed is not None:
            encoder = [(W[seed : seed + 1], b[seed : seed + 1]) for W, b in encoder]
        S = encoder[0][0].shape[0]
        x = self.data if rows is None else self.data[rows]
        if x.ndim == 2:
            return np.concatenate([_forward(encoder, relu, np.broadcast_to(x[i : i + ENCODE_CHUNK], (S, *x[i : i + ENCODE_CHUNK].shape)))[-1]
                                   for i in range(0, len(x), ENCODE_CHUNK)], axis=1)
        return _forward(encoder, relu, x)[-1]

    def run_many(self, seeds: list[int], *, pretrain_steps: int, update_interval: int, tol: float,
                 max_iter: int, anchor: np.ndarray | None = None,
                 progress: Callable[[int], None] | None = None) -> list[DecRun]:
        """Pretrain, initialise and train DEC once per seed, all seeds together.

        Parameters
        ----------
        seeds : list of int
            One run per seed (weights, batches, K-Means).
        pretrain_steps : int
            Batches of autoencoder pretraining.
        update_interval : int
            Batches between refreshes of the target distribution P.
        tol : float
            A seed stops when fewer than this fraction of hard assignments change between refreshes.
        max_iter : int
            Most target refreshes in the KL phase.
        anchor : ndarray of int or None
            Rows near the expected cluster: one initial centre is their mean latent position, so
            that a cluster much smaller than the field still gets its own group; the other k − 1
            centres start from k-means++.
        progress : callable or None
            Called with the number of batches just done (all seeds together).

        Returns
        -------
        list of DecRun
            One per seed, in order.
        """
        S, k, m = len(seeds), self.k, self.m
        tick = progress or (lambda steps: None)
        started = time.perf_counter()
        rngs = [np.random.default_rng(s) for s in seeds]
        ae = _Stack([s for fan in self.shapes for s in (fan, (1, fan[1]))], S, self.learning_rate)
        for i, rng in enumerate(rngs):  # seeded Glorot-uniform weights, zero biases (Keras defaults)
            for (fan_in, fan_out), W in zip(self.shapes, ae.views[::2]):
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                W[i] = rng.uniform(-limit, limit, (fan_in, fan_out))
        layers = list(zip(ae.views[::2], ae.views[1::2]))
        loss = np.full(S, np.nan)
        for step, index in enumerate(self._batches(rngs, pretrain_steps), start=1):
            x = self.data[index]
            acts = _forward(layers, self.relu, x)
            residual = acts[-1] - x
            ae.step(_backward(layers, self.relu, acts, 2.0 * residual / residual[0].size))
            if step % update_interval == 0:
                tick(update_interval)
            if step == pretrain_steps:
                loss = np.mean(residual**2, axis=(1, 2))
        tick(pretrain_steps % update_interval)
        log.info("DEC: %d autoencoders pretrained on %d stars (%d batches, %.1f s)", S, m, pretrain_steps,
                 time.perf_counter() - started)

        n_enc = 2 * self.n_encoder
        kl = _Stack([*(v.shape[1:] for v in ae.views[:n_enc]), (k, self.latent_dim)], S, self.learning_rate)
        kl.flat[: -S * k * self.latent_dim] = ae.flat[: kl.flat.size - S * k * self.latent_dim]
        encoder = list(zip(kl.views[:n_enc:2], kl.views[1:n_enc:2]))
        centres = kl.views[-1]
        for i, (seed, rng) in enumerate(zip(seeds, rngs)):
            z = self._encode(encoder, seed=i)[0]
            sample = rng.choice(m, size=min(m, KMEANS_ROWS), replace=False)
            if anchor is None or len(anchor) == 0:
                km = KMeans(k, n_init=4, random_state=seed).fit(z[sample])
            else:
                zs = z[np.union1d(sample, anchor)]
                rest, _ = kmeans_plusplus(zs, k - 1, random_state=seed)
                init = np.vstack([z[anchor].mean(axis=0, keepdims=True), rest])
                km = KMeans(k, init=init, n_init=1, random_state=seed).fit(zs)
            centres[i] = km.cluster_centers_

        # a fixed, seed-independent subsample: a seed's run does not depend on the others
        check = np.unique(np.linspace(0, m - 1, min(m, CHECK_ROWS)).astype(int))
        labels = _soft(self._encode(encoder, check), centres)[0].argmax(axis=2)
        relu = self.relu[: self.n_encoder]
        done = np.zeros(S, dtype=bool)
        n_iter = np.full(S, max_iter)
        snapshot = [kl.flat.copy() for _ in range(S)]
        for it in range(1, max_iter + 1):
            index = self._batches(rngs, update_interval)  # (U, S, B)
            rows = np.swapaxes(index, 0, 1).reshape(S, -1)
            target = target_distribution_stacked(_soft(_forward(encoder, relu, self.data[rows])[-1], centres)[0])
            target = np.swapaxes(target.reshape(S, update_interval, -1, k), 0, 1)
            for batch, p in zip(index, target):
                acts = _forward(encoder, relu, self.data[batch])
                q, kernel, diff = _soft(acts[-1], centres)
                coef = 2.0 * kernel * (p - q) / batch.shape[1]
                grad_z = np.einsum("sbk,sbkl->sbl", coef, diff)
                grad_mu = -np.einsum("sbk,sbkl->skl", coef, diff)
                kl.step([*_backward(encoder, relu, acts, grad_z), grad_mu])
            tick(update_interval)
            new = _soft(self._encode(encoder, check), centres)[0].argmax(axis=2)
            changed = np.mean(new != labels, axis=1)
            labels = new
            for i in np.flatnonzero(~done & (changed < tol)):
                done[i], n_iter[i] = True, it
                snapshot[i] = kl.flat.copy()
            log.info("DEC: KL refresh %d/%d: %d of %d seeds converged (%.1f s)", it, max_iter, int(done.sum()), S,
                     time.perf_counter() - started)
            if done.all():
                break
        runs = []
        for i in range(S):
            if not done[i]:
                snapshot[i] = kl.flat.copy()
            weights = self._unpack(kl, snapshot[i], i)
            q = self.soft_assign_weights(weights, self.data)
            runs.append(DecRun(q=q.astype(np.float32), labels=q.argmax(axis=1), n_iter=int(n_iter[i]),
                               converged=bool(done[i]), pretrain_loss=float(loss[i]), weights=weights))
        return runs

    def _unpack(self, stack: _Stack, flat: np.ndarray, i: int) -> list[np.ndarray]:
        """Seed ``i``'s encoder weights and centres from a copy ``flat`` of the stack's buffer."""
        saved = stack.flat.copy()
        stack.flat[:] = flat
        weights = [v[i].copy() for v in stack.views]
        stack.flat[:] = saved
        return weights

    def soft_assign_weights(self, weights: list[np.ndarray], Z: np.ndarray) -> np.ndarray:
        """Soft assignment (r, k) of scaled features ``Z`` with one run's encoder and centres."""
        Z = np.asarray(Z, dtype=np.float64)
        if len(Z) == 0:
            return np.zeros((0, self.k))
        encoder = [(weights[2 * j][None], weights[2 * j + 1][None]) for j in range(self.n_encoder)]
        relu = self.relu[: self.n_encoder]
        out = [_soft(_forward(encoder, relu, Z[None, i : i + ENCODE_CHUNK])[-1], weights[-1][None])[0][0]
               for i in range(0, len(Z), ENCODE_CHUNK)]
        return np.concatenate(out)

    def soft_assign(self, run: DecRun, Z: np.ndarray) -> np.ndarray:
        """Soft assignment (r, k) of scaled features ``Z`` (r, d) with the encoder and centres of ``run``."""
        return self.soft_assign_weights(run.weights, Z)


def target_distribution_stacked(q: np.ndarray) -> np.ndarray:
    """:func:`~vo_ocml.membership.dec_model.target_distribution` per seed, q of shape (S, r, k)."""
    return np.stack([target_distribution(qs) for qs in q]).astype(np.float64)
