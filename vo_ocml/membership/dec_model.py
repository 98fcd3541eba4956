"""One DEC run in TensorFlow/Keras: autoencoder pretraining, K-Means start, KL(P‖Q) training.

Deep Embedded Clustering (Xie, Girshick & Farhadi 2016) as in the DEC thesis (shared
SCIENCE.md §2): a small dense autoencoder is pretrained on the scaled features; K-Means in its
latent space initialises the group centres μ_j; the encoder and the centres are then trained to
minimise KL(P‖Q) between the Student-t soft assignment
q_ij ∝ (1 + ‖z_i − μ_j‖²)⁻¹ and the sharpened target p_ij ∝ q_ij² / f_j (f_j = Σ_i q_ij), the
target being refreshed every ``update_interval`` batches (on the rows those batches use, with
f_j from them), until fewer than ``tol`` of the hard assignments of a fixed subsample of up to
:data:`CHECK_ROWS` rows change between refreshes.

Speed: :class:`DecTrainer` builds the networks and traces its ``tf.function`` training loops
once; every seed of the ensemble re-initialises the same variables (seeded Glorot weights,
fresh optimiser state) instead of retracing. The loops run over a fixed number of batches drawn
at random from all rows (so the cost hardly grows with the table), and the soft assignments of
every row come from graph-mode passes in large chunks.

TensorFlow is imported when a :class:`DecTrainer` is made, never at module import.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from vo_ocml.optional import require

log = logging.getLogger(__name__)

#: rows per chunk when encoding the whole table
ENCODE_CHUNK = 65536
#: rows on which the fraction of changed assignments is measured between target refreshes
CHECK_ROWS = 50000
#: rows of the latent space on which K-Means initialises the centres
KMEANS_ROWS = 20000


@dataclass
class DecRun:
    """The outcome of one DEC run (one seed).

    Attributes
    ----------
    q : ndarray, shape (m, k)
        Soft assignment of every row to every group.
    labels : ndarray of int, shape (m,)
        Hard assignment (argmax of q).
    n_iter : int
        Target refreshes done in the KL phase.
    converged : bool
        Whether the changed-assignment fraction fell below ``tol``.
    pretrain_loss : float
        Final reconstruction loss (mean squared error, scaled units).
    weights : list of ndarray
        The trained encoder's weights and, last, the centres (for :meth:`DecTrainer.soft_assign`).
    """

    q: np.ndarray
    labels: np.ndarray
    n_iter: int
    converged: bool
    pretrain_loss: float
    weights: list[np.ndarray]


def configure_tensorflow() -> Any:
    """Import TensorFlow quietly, limit its threads and enable deterministic ops.

    Returns
    -------
    module
        The ``tensorflow`` module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = require("tensorflow", "DEC's TensorFlow backend", "dec")

    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(min(os.cpu_count() or 1, 4))
    except RuntimeError:  # already initialised by an earlier fit: keep its settings
        pass
    tf.config.experimental.enable_op_determinism()
    return tf


def target_distribution(q: np.ndarray) -> np.ndarray:
    """DEC's sharpened target p_ij ∝ q_ij² / f_j with f_j = Σ_i q_ij."""
    w = q**2 / q.sum(axis=0)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def batch_rows(rng: np.random.Generator, n: int, n_steps: int, batch_size: int) -> np.ndarray:
    """Row indices of ``n_steps`` batches: successive random permutations of all rows."""
    size = min(batch_size, n)
    needed = n_steps * size
    perms = [rng.permutation(n) for _ in range(-(-needed // n))]
    return np.concatenate(perms)[:needed].reshape(n_steps, size).astype(np.int32)


class DecTrainer:
    """Autoencoder, centres and compiled training loops for DEC on one scaled feature table.

    Parameters
    ----------
    Z : ndarray of float32, shape (m, d)
        Scaled features of the complete rows.
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
        tf = configure_tensorflow()
        import keras

        self.m, d = Z.shape
        self.k = n_clusters
        self.batch_size = batch_size
        self.data = tf.constant(Z)
        inputs = keras.Input(shape=(d,))
        x = inputs
        for units in hidden:
            x = keras.layers.Dense(units, activation="relu")(x)
        latent = keras.layers.Dense(latent_dim)(x)
        y = latent
        for units in reversed(hidden):
            y = keras.layers.Dense(units, activation="relu")(y)
        outputs = keras.layers.Dense(d)(y)
        self.encoder = keras.Model(inputs, latent)
        self.autoencoder = keras.Model(inputs, outputs)
        self.centres = keras.Variable(np.zeros((n_clusters, latent_dim), np.float32), name="dec_centres")
        self.ae_opt = keras.optimizers.Adam(learning_rate)
        self.kl_opt = keras.optimizers.Adam(learning_rate)
        ae_vars = self.autoencoder.trainable_variables
        kl_vars = [*self.encoder.trainable_variables, self.centres]
        data, encoder, autoencoder, centres = self.data, self.encoder, self.autoencoder, self.centres
        ae_opt, kl_opt = self.ae_opt, self.kl_opt

        def soft(z: Any) -> Any:  # Student-t (one degree of freedom)
            q = 1.0 / (1.0 + tf.reduce_sum(tf.square(z[:, None, :] - centres[None, :, :]), axis=2))
            return q / tf.reduce_sum(q, axis=1, keepdims=True)

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def pretrain(index: Any) -> Any:
            loss = tf.constant(0.0)
            for i in tf.range(tf.shape(index)[0]):
                x = tf.gather(data, index[i])
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(autoencoder(x, training=True) - x))
                ae_opt.apply_gradients(zip(tape.gradient(loss, ae_vars), ae_vars))
            return loss

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, n_clusters])])
        def kl_train(index: Any, target: Any) -> Any:
            loss = tf.constant(0.0)
            for i in tf.range(tf.shape(index)[0]):
                x = tf.gather(data, index[i])
                p = tf.gather(target, index[i])
                with tf.GradientTape() as tape:
                    q = soft(encoder(x, training=True))
                    loss = tf.reduce_mean(tf.reduce_sum(p * tf.math.log((p + 1e-12) / (q + 1e-12)), axis=1))
                kl_opt.apply_gradients(zip(tape.gradient(loss, kl_vars), kl_vars))
            return loss

        @tf.function(input_signature=[tf.TensorSpec([None, d])])
        def encode(x: Any) -> Any:
            return encoder(x, training=False)

        @tf.function(input_signature=[tf.TensorSpec([None, d])])
        def assign(x: Any) -> Any:
            return soft(encoder(x, training=False))

        self._tf, self._pretrain, self._kl_train, self._encode, self._assign = tf, pretrain, kl_train, encode, assign

    def _chunks(self, fn: Callable[[Any], Any], x: Any) -> np.ndarray:
        """Apply a graph function to ``x`` in chunks of :data:`ENCODE_CHUNK` rows."""
        return np.concatenate([fn(x[i : i + ENCODE_CHUNK]).numpy() for i in range(0, int(x.shape[0]), ENCODE_CHUNK)])

    def _reset(self, seed: int) -> None:
        """Seeded Glorot-uniform weights, zero biases, fresh optimiser state."""
        rng = np.random.default_rng(seed)
        for layer in self.autoencoder.layers:
            if not layer.weights:
                continue
            kernel, bias = layer.kernel, layer.bias
            fan_in, fan_out = kernel.shape
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            kernel.assign(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            bias.assign(np.zeros(bias.shape, np.float32))
        for opt in (self.ae_opt, self.kl_opt):
            for v in opt.variables:  # iterations and moments; the learning rate stays
                if "learning_rate" not in v.path:
                    v.assign(np.zeros(v.shape, v.dtype))

    def run(self, seed: int, *, pretrain_steps: int, update_interval: int, tol: float, max_iter: int,
            anchor: np.ndarray | None = None, progress: Callable[[int], None] | None = None) -> DecRun:
        """Pretrain, initialise and train DEC once, from ``seed``.

        Parameters
        ----------
        seed : int
            Seed of this run (weights, batches, K-Means).
        pretrain_steps : int
            Batches of autoencoder pretraining.
        update_interval : int
            Batches between refreshes of the target distribution P.
        tol : float
            Stop when fewer than this fraction of hard assignments change between refreshes.
        max_iter : int
            Most target refreshes in the KL phase.
        anchor : ndarray of int or None
            Rows near the expected cluster (e.g. a centroid): one initial centre is their mean
            latent position, so that a cluster much smaller than the field still gets its own
            group; the other k − 1 centres start from k-means++.
        progress : callable or None
            Called with the number of batches just done (for a progress bar).

        Returns
        -------
        DecRun
        """
        import keras

        tf = self._tf
        keras.utils.set_random_seed(seed)
        self._reset(seed)
        rng = np.random.default_rng(seed)
        m, k = self.m, self.k
        tick = progress or (lambda steps: None)

        chunk = max(1, -(-pretrain_steps // 10))
        loss = np.nan
        for start in range(0, pretrain_steps, chunk):
            steps = min(chunk, pretrain_steps - start)
            loss = float(self._pretrain(tf.constant(batch_rows(rng, m, steps, self.batch_size))))
            tick(steps)

        z = self._chunks(self._encode, self.data)
        sample = rng.choice(m, size=min(m, KMEANS_ROWS), replace=False)
        if anchor is None or len(anchor) == 0:
            km = KMeans(k, n_init=4, random_state=seed).fit(z[sample])
        else:
            zs = z[np.union1d(sample, anchor)]
            rest, _ = kmeans_plusplus(zs, k - 1, random_state=seed)
            init = np.vstack([z[anchor].mean(axis=0, keepdims=True), rest])
            km = KMeans(k, init=init, n_init=1, random_state=seed).fit(zs)
        self.centres.assign(km.cluster_centers_.astype(np.float32))

        # the target P is computed on the rows the next update_interval batches use, and the
        # changed fraction on a fixed subsample: on large tables a refresh then costs a small
        # fraction of a pass over every row
        check = np.sort(rng.choice(m, size=min(m, CHECK_ROWS), replace=False))
        check_data = tf.gather(self.data, check)
        labels = self._chunks(self._assign, check_data).argmax(axis=1)
        target = np.zeros((m, k), np.float32)
        converged = False
        n_iter = 0
        for n_iter in range(1, max_iter + 1):
            index = batch_rows(rng, m, update_interval, self.batch_size)
            used = np.unique(index)
            target[used] = target_distribution(self._chunks(self._assign, tf.gather(self.data, used)))
            self._kl_train(tf.constant(index), tf.constant(target))
            tick(update_interval)
            new = self._chunks(self._assign, check_data).argmax(axis=1)
            changed = float(np.mean(new != labels))
            labels = new
            log.debug("DEC seed %d refresh %d: %.4f of assignments changed", seed, n_iter, changed)
            if changed < tol:
                converged = True
                break
        q = self._chunks(self._assign, self.data)
        labels = q.argmax(axis=1)
        weights = [np.array(w) for w in self.encoder.get_weights()] + [np.array(self.centres.numpy())]
        return DecRun(q=q, labels=labels, n_iter=n_iter, converged=converged, pretrain_loss=loss, weights=weights)

    def soft_assign(self, run: DecRun, Z: np.ndarray) -> np.ndarray:
        """Soft assignment (r, k) of scaled features ``Z`` (r, d) with the encoder and centres of ``run``."""
        self.encoder.set_weights(run.weights[:-1])
        self.centres.assign(run.weights[-1])
        if len(Z) == 0:
            return np.zeros((0, self.k), np.float32)
        return self._chunks(self._assign, self._tf.constant(np.asarray(Z, dtype=np.float32)))
