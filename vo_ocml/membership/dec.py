"""DEC: Deep Embedded Clustering membership (the DEC thesis, shared SCIENCE.md §2), made to compete.

Rows with complete astrometry are used (others: stage ``incomplete``, probability NaN); the
thesis's features also need parallax > 0.

``features="sky"`` (default):

1. **Scope**: the core's front end (:func:`vo_ocml.membership.scope.candidates`): the cluster
   is seeded (given centroid, or the most significant compact overdensity in pm, parallax and
   sky), measured, and only the stars that pass the adaptive χ² filter around it go on (the
   others: stage ``filter``, probability 0).
2. **Features**: tangent-plane (ξ, η) beside pmra, pmdec and parallax, robustly scaled: a
   cluster is compact on the sky as well, so DEC's groups can separate it from the field stars
   of its own proper-motion/parallax cell.
3. **k** by silhouette, then **DEC** for ``n_seeds`` seeds trained together
   (:mod:`vo_ocml.membership.dec_numpy`); each run's cluster groups are the densest group in
   the five features and the similarly dense groups next to it (:mod:`vo_ocml.membership.dec_groups`);
   DEC's score is the ensemble mean of the soft assignment to them.
4. **Probability**: the default method's deconvolved cluster + field likelihood ratio in
   (pmra, pmdec, parallax) with its settings (:func:`vo_ocml.membership.mixture_step.radial`),
   its sky profile started where DEC's cluster group lies; stage ``dec``.

``clusters`` N > 1 or ``"all"`` (sky features): every significant cluster of the table, each
placed on the sky by DEC, with the default method's joint mixture
(:mod:`vo_ocml.membership.dec_multi`).

``features="thesis"`` (the thesis's method) or ``"raw"``: the whole cone is clustered on
pmra/parallax, pmdec/parallax, parallax and the proper-motion modulus (or raw pmra, pmdec,
parallax); the cluster's group is the one nearest the centroid (given, or found in the data),
else the densest; the probability is the ensemble's soft-assignment ratio; the thesis's
0.10–0.90 quantile filter is optional (``quantile_filter=True``, stage ``quantile``)
(:mod:`vo_ocml.membership.dec_thesis`).

Input checks, the usable rows, their canonical order (so the result does not depend on the
input's row order) and the result for every input row are the shared contract's
(:class:`~vo_ocml.membership.base.MembershipEstimator`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from vo_ocml.errors import InputError
from vo_ocml.membership.base import Centroid, MembershipEstimator, Scores, as_centroid, complete_mask
from vo_ocml.membership.dec_features import FEATURE_SETS, usable_mask
from vo_ocml.membership.dec_groups import ROWS_PER_GROUP, choose_k
from vo_ocml.membership.joint import check_clusters
from vo_ocml.membership.joint_seeds import check_known
from vo_ocml.optional import require

log = logging.getLogger(__name__)

#: thesis features: tables of up to SMALL_TABLE complete rows get SEEDS_SMALL runs
#: (seed-to-seed member overlap ≥ 0.93 on the shared cones), larger ones SEEDS_LARGE (time)
SMALL_TABLE = 100_000
SEEDS_SMALL = 32
SEEDS_LARGE = 16
#: "sky" features: seeds of the ensemble (the likelihood ratio settles the members)
SEEDS_SKY = 8
#: DEC's backends: "numpy" (default; every seed at once) or "tensorflow" (a GPU when TF sees one)
BACKENDS = ("numpy", "tensorflow")


class DEC(MembershipEstimator):
    """Deep Embedded Clustering membership with automatic cluster identification.

    Parameters
    ----------
    features : {"sky", "thesis", "raw"}
        ``"sky"`` (default): (ξ, η, pmra, pmdec, parallax) of the stars that pass the core's
        adaptive filter, with calibrated probabilities (module docstring). ``"thesis"``:
        pmra/parallax, pmdec/parallax, parallax, proper-motion modulus of the whole cone, soft
        probabilities (the thesis); ``"raw"``: the same with pmra, pmdec, parallax.
    n_clusters : int or None
        Number of groups k; None chooses k in ``k_range`` by the best silhouette score.
    hidden : tuple of int
        Encoder hidden-layer widths (the decoder mirrors them).
    latent_dim : int
        Latent-space width.
    n_seeds : int or None
        Ensemble size. None: 8 for ``"sky"``; for the thesis features 32 for tables of up to
        100,000 complete rows, 16 for larger ones.
    quantile_filter : bool
        Thesis features only: apply the thesis's quantile filter to the members (off by
        default: it halves completeness and makes the member set less stable between seeds).
    quantiles : (float, float)
        The filter's lower and upper quantiles of the members' features.
    centroid : Centroid or (pmra, pmdec, parallax) or None
        The cluster's centroid (mas/yr, mas/yr, mas); None finds it in the data.
    k_range : (int, int)
        Smallest and largest k tried when ``n_clusters`` is None.
    merge_distance : float or None
        Groups whose median lies within this many of the core group's robust spreads (root mean
        square) of the core's median join the cluster; 0 disables. None: 0 for ``"sky"`` (its
        core group only starts the likelihood ratio, which finds the rest of the cluster), 2 for
        the thesis features (a rich cluster filling its box is split into several groups).
    clusters : int or "all"
        How many clusters to model together with the field (``features="sky"`` only): 1
        (default) the named or most significant one; N > 1 or ``"all"`` (up to
        ``max_clusters``) adds every other significant cluster the blind detection finds, DEC
        places each on the sky and the joint mixture gives every star a probability per
        cluster (:mod:`vo_ocml.membership.dec_multi`).
    max_clusters : int
        Most clusters a ``clusters="all"`` run models.
    photometric : bool
        Sky features: the likelihood ratio (single and several clusters) adds each cluster's
        sequence in the CMD (BP−RP given G) against the field's colours, as the default
        method does by default (:mod:`vo_ocml.membership.photometry`), when the table has G
        and BP−RP. False: kinematics and position alone.
    known_clusters : sequence of Centroid
        Clusters known to be in the table, each with ``ra``, ``dec`` and ``r50`` (``vo_ocml.run``
        passes the catalogued ones). A run of several clusters seeds those the detection did
        not find, each started where it is known and kept where the joint mixture confirms it
        (:func:`~vo_ocml.membership.joint_seeds.known_seeds`, as the default method seeds
        them); a single-cluster run does not use them.
    backend : {"numpy", "tensorflow"}
        ``"numpy"`` (default, CPU): every seed trained at once, no TensorFlow import.
        ``"tensorflow"``: the Keras implementation, one seed after another; it runs on a GPU
        when TensorFlow sees one (``pip install vo_ocml[dec]``).
    tol : float
        Stop the KL phase when fewer than this fraction of assignments change.
    max_iter : int
        Most target refreshes in the KL phase.
    pretrain_steps : int
        Autoencoder pretraining batches.
    update_interval : int
        Batches between target refreshes.
    batch_size : int
        Rows per batch.
    learning_rate : float
        Adam learning rate.
    silhouette_rows : int
        Rows on which each silhouette score is computed.
    random_state : int
        Seed of everything random (the ensemble's seeds derive from it).
    verbose : bool
        Show a progress bar while training.

    Attributes
    ----------
    result_ : MembershipResult
        Probabilities, stages, step counts, centroid, parameters, details, ``ocml_dec_group``.
    probability_ : ndarray, shape (n,)
        Membership probability per input row (NaN for incomplete rows).
    labels_ : ndarray of int, shape (n,)
        Group of each row in the representative seed's run (-1 for rows DEC did not cluster).
    cluster_groups_ : list of int
        The cluster's groups in ``labels_`` (core first, then merged ones).
    n_clusters_ : int or None
        The k used (None when no cluster was seeded).
    model_ : object
        The fitted feature-set model (``predict_proba`` scores new rows with it).
    """

    def __init__(
        self,
        features: str = "sky",
        n_clusters: int | None = None,
        hidden: tuple[int, ...] = (16, 16),
        latent_dim: int = 4,
        n_seeds: int | None = None,
        quantile_filter: bool = False,
        quantiles: tuple[float, float] = (0.10, 0.90),
        centroid: Centroid | tuple[float, float, float] | None = None,
        k_range: tuple[int, int] = (4, 12),
        merge_distance: float | None = None,
        clusters: int | str = 1,
        max_clusters: int = 8,
        known_clusters: tuple[Centroid, ...] = (),
        photometric: bool = True,
        backend: str = "numpy",
        tol: float = 0.001,
        max_iter: int = 20,
        pretrain_steps: int = 300,
        update_interval: int = 20,
        batch_size: int = 128,
        learning_rate: float = 0.003,
        silhouette_rows: int = 4000,
        random_state: int = 0,
        verbose: bool = False,
    ) -> None:
        self.features = features
        self.n_clusters = n_clusters
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.n_seeds = n_seeds
        self.quantile_filter = quantile_filter
        self.quantiles = quantiles
        self.centroid = centroid
        self.k_range = k_range
        self.merge_distance = merge_distance
        self.clusters = clusters
        self.max_clusters = max_clusters
        self.known_clusters = known_clusters
        self.photometric = photometric
        self.backend = backend
        self.tol = tol
        self.max_iter = max_iter
        self.pretrain_steps = pretrain_steps
        self.update_interval = update_interval
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.silhouette_rows = silhouette_rows
        self.random_state = random_state
        self.verbose = verbose

    method = "dec"
    complete_rows = "finite ra, dec, pmra, pmdec and parallax; > 0 for the thesis's features"

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.features not in FEATURE_SETS:
            raise InputError(f"DEC features must be one of {sorted(FEATURE_SETS)}; got {self.features!r}.")
        if self.backend not in BACKENDS:
            raise InputError(f"DEC backend must be one of {list(BACKENDS)}; got {self.backend!r}.")
        if self.backend == "tensorflow":  # fail before any work when TensorFlow is missing
            require("tensorflow", "DEC's TensorFlow backend", "dec")
        if self.n_clusters is not None and (not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 2):
            raise InputError(f"DEC n_clusters must be an integer ≥ 2 or None (automatic); got {self.n_clusters!r}.")
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            raise InputError(f"DEC k_range must be (low, high) with 2 ≤ low ≤ high; got {self.k_range!r}.")
        q_lo, q_hi = self.quantiles
        if not 0.0 <= q_lo < q_hi <= 1.0:
            raise InputError(f"DEC quantiles must satisfy 0 ≤ low < high ≤ 1; got {self.quantiles!r}.")
        check_clusters(self.clusters)
        if self.clusters != 1 and self.features != "sky":
            raise InputError(f"clusters other than 1 needs DEC features 'sky' (the thesis's "
                             f"method finds one cluster); got features {self.features!r}.")
        if not isinstance(self.max_clusters, (int, np.integer)) or self.max_clusters < 1:
            raise InputError(f"max_clusters must be an integer ≥ 1; got {self.max_clusters!r}.")
        check_known(self.known_clusters)
        if self.n_seeds is not None and self.n_seeds < 1:
            raise InputError(f"DEC n_seeds must be ≥ 1; got {self.n_seeds!r}.")
        as_centroid(self.centroid)

    def _scorable(self, X: np.ndarray) -> np.ndarray:
        # the thesis's ratios need parallax > 0; the sky features take every complete row, as the
        # default method does (dropping the negative parallaxes of a distant field skews its
        # parallax distribution, and the detection's field model with it)
        return complete_mask(X) if self.features == "sky" else usable_mask(X)

    @property
    def labels_(self) -> np.ndarray:
        """Group of each input row in the representative seed's run (-1: not clustered)."""
        return self.result_.extra_columns["ocml_dec_group"]

    # ------------------------------------------------------------------ shared by the feature sets
    def _network(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The training schedule and the network's shape, as the trainers take them."""
        training = {"pretrain_steps": self.pretrain_steps, "update_interval": self.update_interval,
                    "tol": self.tol, "max_iter": self.max_iter}
        network = {"hidden": tuple(self.hidden), "latent_dim": self.latent_dim, "batch_size": self.batch_size,
                   "learning_rate": self.learning_rate}
        return training, network

    def _seeds(self, m: int) -> list[int]:
        """The ensemble's seeds, derived from ``random_state``."""
        default = SEEDS_SKY if self.features == "sky" else (SEEDS_SMALL if m <= SMALL_TABLE else SEEDS_LARGE)
        return [int(s) for s in np.random.SeedSequence(self.random_state).generate_state(self.n_seeds or default)]

    def _k(self, Z: np.ndarray, what: str, k_low: int = 2) -> tuple[int, dict[int, float]]:
        """k for the scaled features ``Z``: given, or by silhouette in ``k_range`` raised to at
        least ``k_low``; checks there are enough stars."""
        k_range = (max(self.k_range[0], k_low), max(self.k_range[1], k_low))
        k_low = self.n_clusters if self.n_clusters is not None else k_range[0]
        if len(Z) < ROWS_PER_GROUP * k_low:
            raise InputError(
                f"DEC needs at least {ROWS_PER_GROUP * k_low} {what} to form {k_low} groups; there are "
                f"{len(Z)}. Use a larger cone or a smaller n_clusters."
            )
        n_distinct = len(np.unique(Z, axis=0))
        if n_distinct < k_low:
            raise InputError(
                f"DEC cannot form {k_low} groups: the {len(Z)} {what} have only {n_distinct} "
                "distinct (pmra, pmdec, parallax) values (identical rows?); DEC needs at least as "
                "many distinct stars as groups."
            )
        if self.n_clusters is not None:
            return int(self.n_clusters), {}
        return choose_k(Z, n_distinct, k_range, self.silhouette_rows)

    # ------------------------------------------------------------------ the contract
    def _fit_rows(self, Xc: np.ndarray, err: np.ndarray | None) -> Scores:
        """Cluster the usable rows ``Xc`` (canonical order) and score the cluster's membership."""
        from vo_ocml.membership.dec_multi import fit_several
        from vo_ocml.membership.dec_sky import fit_sky
        from vo_ocml.membership.dec_thesis import fit_thesis

        centroid: Centroid | None = as_centroid(self.centroid)
        # one BLAS/OpenMP thread: DEC's matrices are small, and on a loaded machine K-Means'
        # spinning thread pool made a 1,700-star fit take a minute
        with threadpool_limits(limits=1):
            if self.clusters != 1:
                most = self.max_clusters if self.clusters == "all" else int(self.clusters)
                out = fit_several(self, Xc, err, centroid, self._stars, most)
            else:
                fit = fit_sky if self.features == "sky" else fit_thesis
                out = fit(self, Xc, err, centroid, self._stars)
        self.n_clusters_ = out.n_clusters
        self.cluster_groups_ = out.cluster_groups
        self.model_ = out.model
        return out.scores

    def _predict_cluster_rows(self, X: np.ndarray, err: np.ndarray | None) -> np.ndarray:
        """Each cluster's membership, then the field's, of usable new rows under the fitted
        model (one cluster, or a several-cluster run's)."""
        with threadpool_limits(limits=1):
            P = self.model_.predict(X, err, self._stars)
        return P if P.ndim == 2 else np.column_stack([P, 1.0 - P])
