"""One DEC run in TensorFlow/Keras: autoencoder pretraining, K-Means start, KL(P‖Q) training.

Deep Embedded Clustering (Xie, Girshick & Farhadi 2016) as in the DEC thesis (shared
SCIENCE.md §2): a small dense autoencoder is pretrained on the scaled features; K-Means in its
latent space initialises the group centres μ_j; the encoder and the centres are then trained to
minimise KL(P‖Q) between the Student-t soft assignment
q_ij ∝ (1 + ‖z_i − μ_j‖²)⁻¹ and the sharpened target p_ij ∝ q_ij² / f_j (f_j = Σ_i q_ij), the
target being refreshed every ``update_interval`` batches, until fewer than ``tol`` of the hard
assignments change between refreshes.

Speed: the training loops run as compiled ``tf.function`` graphs over a fixed number of
batches drawn at random from all rows (so the cost does not grow with the table), and the soft
assignments of every row come from a single graph-mode pass in large chunks.

TensorFlow is imported inside :func:`run_dec`, never at module import.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

log = logging.getLogger(__name__)

#: rows per chunk when encoding the whole table
ENCODE_CHUNK = 65536
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
    soft_assign : callable
        Maps scaled features (float32, shape (r, d)) to their soft assignment (r, k) with the
        trained encoder and centres (for :meth:`DEC.predict_proba` on new rows).
    """

    q: np.ndarray
    labels: np.ndarray
    n_iter: int
    converged: bool
    pretrain_loss: float
    soft_assign: Callable[[np.ndarray], np.ndarray]


def configure_tensorflow() -> Any:
    """Import TensorFlow quietly, limit its threads and enable deterministic ops.

    Returns
    -------
    module
        The ``tensorflow`` module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(min(os.cpu_count() or 1, 4))
    except RuntimeError:  # already initialised by an earlier fit: keep its settings
        pass
    tf.config.experimental.enable_op_determinism()
    return tf


def _build(n_features: int, hidden: tuple[int, ...], latent_dim: int, seed: int) -> tuple[Any, Any]:
    """Encoder and autoencoder with seeded Glorot initialisation."""
    import keras

    def dense(units: int, activation: str | None, i: int) -> Any:
        init = keras.initializers.GlorotUniform(seed=seed * 1000 + i)
        return keras.layers.Dense(units, activation=activation, kernel_initializer=init)

    inputs = keras.Input(shape=(n_features,))
    x = inputs
    layer = 0
    for units in hidden:
        x = dense(units, "relu", layer)(x)
        layer += 1
    latent = dense(latent_dim, None, layer)(x)
    layer += 1
    y = latent
    for units in reversed(hidden):
        y = dense(units, "relu", layer)(y)
        layer += 1
    outputs = dense(n_features, None, layer)(y)
    return keras.Model(inputs, latent), keras.Model(inputs, outputs)


def _soft_assignment(tf: Any, z: Any, centres: Any) -> Any:
    """Student-t (one degree of freedom) soft assignment q of latent points to centres."""
    d2 = tf.reduce_sum(tf.square(z[:, None, :] - centres[None, :, :]), axis=2)
    q = 1.0 / (1.0 + d2)
    return q / tf.reduce_sum(q, axis=1, keepdims=True)


def target_distribution(q: np.ndarray) -> np.ndarray:
    """DEC's sharpened target p_ij ∝ q_ij² / f_j with f_j = Σ_i q_ij."""
    w = q**2 / q.sum(axis=0)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def _batches(rng: np.random.Generator, n: int, n_steps: int, batch_size: int) -> np.ndarray:
    """Row indices of ``n_steps`` batches: successive random permutations of all rows."""
    size = min(batch_size, n)
    needed = n_steps * size
    perms = [rng.permutation(n) for _ in range(-(-needed // n))]
    return np.concatenate(perms)[:needed].reshape(n_steps, size).astype(np.int32)


def run_dec(
    Z: np.ndarray,
    n_clusters: int,
    *,
    hidden: tuple[int, ...],
    latent_dim: int,
    pretrain_steps: int,
    batch_size: int,
    update_interval: int,
    tol: float,
    max_iter: int,
    learning_rate: float,
    seed: int,
    anchor: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> DecRun:
    """Pretrain, initialise and train one DEC model on the scaled features ``Z``.

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
    pretrain_steps : int
        Batches of autoencoder pretraining.
    batch_size : int
        Rows per batch (both phases).
    update_interval : int
        Batches between refreshes of the target distribution P.
    tol : float
        Stop when fewer than this fraction of hard assignments change between refreshes.
    max_iter : int
        Most target refreshes in the KL phase.
    learning_rate : float
        Adam learning rate (both phases).
    seed : int
        Seed of this run (weights, batches, K-Means).
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

    tf = configure_tensorflow()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    m, d = Z.shape
    encoder, autoencoder = _build(d, hidden, latent_dim, seed)
    data = tf.constant(Z)
    tick = progress or (lambda steps: None)

    # --- phase 1: autoencoder pretraining (mean squared reconstruction error) ---
    ae_opt = keras.optimizers.Adam(learning_rate)
    ae_vars = autoencoder.trainable_variables

    @tf.function
    def pretrain(index: Any) -> Any:
        loss = tf.constant(0.0)
        for i in tf.range(tf.shape(index)[0]):
            x = tf.gather(data, index[i])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(autoencoder(x, training=True) - x))
            ae_opt.apply_gradients(zip(tape.gradient(loss, ae_vars), ae_vars))
        return loss

    chunk = max(1, pretrain_steps // 10)
    loss = np.nan
    for start in range(0, pretrain_steps, chunk):
        steps = min(chunk, pretrain_steps - start)
        loss = float(pretrain(tf.constant(_batches(rng, m, steps, batch_size))))
        tick(steps)

    @tf.function
    def encode(x: Any) -> Any:
        return encoder(x, training=False)

    def latent_all() -> np.ndarray:
        return np.concatenate([encode(data[i : i + ENCODE_CHUNK]).numpy() for i in range(0, m, ENCODE_CHUNK)])

    # --- phase 2: K-Means in the latent space initialises the centres ---
    z = latent_all()
    sample = rng.choice(m, size=min(m, KMEANS_ROWS), replace=False)
    if anchor is None or len(anchor) == 0:
        km = KMeans(n_clusters, n_init=4, random_state=seed).fit(z[sample])
    else:
        zs = z[np.union1d(sample, anchor)]
        rest, _ = kmeans_plusplus(zs, n_clusters - 1, random_state=seed)
        init = np.vstack([z[anchor].mean(axis=0, keepdims=True), rest])
        km = KMeans(n_clusters, init=init, n_init=1, random_state=seed).fit(zs)
    centres = keras.Variable(km.cluster_centers_.astype(np.float32), name="dec_centres")

    # --- phase 3: KL(P||Q) with the target refreshed every update_interval batches ---
    kl_opt = keras.optimizers.Adam(learning_rate)
    kl_vars = [*encoder.trainable_variables, centres]

    @tf.function
    def assign(x: Any) -> Any:
        return _soft_assignment(tf, encoder(x, training=False), centres)

    @tf.function
    def kl_train(index: Any, target: Any) -> Any:
        loss = tf.constant(0.0)
        for i in tf.range(tf.shape(index)[0]):
            x = tf.gather(data, index[i])
            p = tf.gather(target, index[i])
            with tf.GradientTape() as tape:
                q = _soft_assignment(tf, encoder(x, training=True), centres)
                loss = tf.reduce_mean(tf.reduce_sum(p * tf.math.log((p + 1e-12) / (q + 1e-12)), axis=1))
            kl_opt.apply_gradients(zip(tape.gradient(loss, kl_vars), kl_vars))
        return loss

    def soft_assign(x: np.ndarray) -> np.ndarray:
        x = tf.constant(np.asarray(x, dtype=np.float32))
        parts = [assign(x[i : i + ENCODE_CHUNK]).numpy() for i in range(0, len(x), ENCODE_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, n_clusters), np.float32)

    def q_all() -> np.ndarray:
        return np.concatenate([assign(data[i : i + ENCODE_CHUNK]).numpy() for i in range(0, m, ENCODE_CHUNK)])

    q = q_all()
    labels = q.argmax(axis=1)
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        kl_train(tf.constant(_batches(rng, m, update_interval, batch_size)), tf.constant(target_distribution(q)))
        tick(update_interval)
        q = q_all()
        new = q.argmax(axis=1)
        changed = float(np.mean(new != labels))
        labels = new
        log.debug("DEC seed %d refresh %d: %.4f of assignments changed", seed, n_iter, changed)
        if changed < tol:
            converged = True
            break
    return DecRun(
        q=q, labels=labels, n_iter=n_iter, converged=converged, pretrain_loss=loss, soft_assign=soft_assign
    )
