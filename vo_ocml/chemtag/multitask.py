"""The multitask autoencoder of the study (Keras 3, TensorFlow backend; imported lazily).

Architecture: input (d abundances, standardised) → one dense encoder layer of ``latent_dim``
units → a linear decoder back to d values, and a softmax classifier on the latent code. Loss::

    L = mean_i Σ_j (x_ij − x̃_ij)² · exp(−σ_ij)  +  γ · cross-entropy(y_i, ŷ_i)

where ``σ_ij`` is the abundance uncertainty (dex; unknown uncertainties count as 0, i.e. full
weight). As a transformer the model returns the latent code (the representation compared in the
study's Table 4); as a classifier it uses its own softmax head.

The Keras model is stored in the Keras format inside the pickled estimator, so a pipeline that
contains it can be saved with joblib.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder

from vo_ocml.optional import require

log = logging.getLogger(__name__)


class MultitaskAutoencoder(TransformerMixin, ClassifierMixin, BaseEstimator):
    """Autoencoder with a classification head on its latent code.

    Parameters
    ----------
    latent_dim : int
        Size of the latent code (the study: 10).
    gamma : float
        Weight of the cross-entropy term.
    activation : str
        Activation of the encoder layer.
    epochs : int
        Passes over the training data.
    batch_size : int or None
        Mini-batch size; ``None`` trains on the whole set at each step (fast for the few
        hundred stars of a cluster sample).
    learning_rate : float
        Adam step size.
    random_state : int
        Seed of the weights and the batch order.
    """

    def __init__(self, latent_dim: int = 10, gamma: float = 1.0, activation: str = "tanh",
                 epochs: int = 300, batch_size: int | None = None, learning_rate: float = 0.01,
                 random_state: int = 0):
        self.latent_dim = latent_dim
        self.gamma = gamma
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, sigma: np.ndarray | None = None
            ) -> MultitaskAutoencoder:
        """Train encoder, decoder and head jointly.

        Parameters
        ----------
        X : ndarray, shape (n, d)
            Standardised abundances (no NaN).
        y : ndarray, shape (n,)
            Labels.
        sigma : ndarray, shape (n, d), optional
            Uncertainties; NaN or absent means 0.

        Returns
        -------
        self
        """
        tf = require("tensorflow", "The multitask representation", "chemtag")
        import keras

        X = np.asarray(X, dtype="float32")
        sigma = np.zeros_like(X) if sigma is None else np.nan_to_num(
            np.asarray(sigma, dtype="float32"), nan=0.0)
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        codes = self.encoder_.transform(y).astype("int32")
        keras.utils.set_random_seed(self.random_state)
        model = _build(X.shape[1], self.latent_dim, len(self.classes_), self.activation)
        optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)
        gamma = float(self.gamma)

        @tf.function
        def step(x: Any, s: Any, t: Any) -> Any:
            with tf.GradientTape() as tape:
                recon, proba = model(x, training=True)
                rec = tf.reduce_mean(tf.reduce_sum(tf.square(x - recon) * tf.exp(-s), axis=1))
                ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(t, proba))
                loss = rec + gamma * ce
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        n = len(X)
        batch = n if self.batch_size is None else min(int(self.batch_size), n)
        rng = np.random.default_rng(self.random_state)
        tensors = [tf.constant(a) for a in (X, sigma, codes)]
        for _ in range(self.epochs):
            order = tf.constant(rng.permutation(n)) if batch < n else None
            for start in range(0, n, batch):
                if order is None:
                    loss = step(*tensors)
                else:
                    idx = order[start:start + batch]
                    loss = step(*(tf.gather(a, idx) for a in tensors))
        self.loss_ = float(loss)
        log.debug("multitask trained: final batch loss %.4f", self.loss_)
        self.model_ = model
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The latent code of each row."""
        return self._run(X)[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax-head probabilities, columns in the order of ``classes_``."""
        return self._run(X)[2]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable label from the softmax head."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """The decoder's reconstruction of each row."""
        return self._run(X)[1]

    def _run(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import keras

        X = np.asarray(X, dtype="float32")
        encoder = keras.Model(self.model_.input, self.model_.get_layer("latent").output)
        latent = np.asarray(encoder(X, training=False))
        recon, proba = (np.asarray(a) for a in self.model_(X, training=False))
        return latent, recon, proba

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if "model_" in state:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "multitask.keras"
                with warnings.catch_warnings():  # Keras' own numpy-2 copy= deprecation
                    warnings.simplefilter("ignore", DeprecationWarning)
                    state["model_"].save(path)
                state["model_"] = path.read_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("model_"), bytes):
            keras = require("keras", "A saved model with the multitask representation", "chemtag")

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "multitask.keras"
                path.write_bytes(state["model_"])
                state["model_"] = keras.models.load_model(path)
        self.__dict__.update(state)


def _build(n_in: int, latent_dim: int, n_classes: int, activation: str) -> Any:
    import keras

    inputs = keras.Input(shape=(n_in,), name="abundances")
    latent = keras.layers.Dense(latent_dim, activation=activation, name="latent")(inputs)
    recon = keras.layers.Dense(n_in, name="reconstruction")(latent)
    proba = keras.layers.Dense(n_classes, activation="softmax", name="cluster")(latent)
    return keras.Model(inputs, [recon, proba], name="chemtag_multitask")

