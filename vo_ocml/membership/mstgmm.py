"""filter → MST → GMM membership (SCIENCE.md §1), with a data-driven, adaptive front end.

1. **Centroid.** From the user, a catalogue (passed in as a :class:`Centroid`), or found in the
   data (:func:`vo_ocml.membership.centroid.find_centroid`); then, unless ``refine=False``,
   measured around that seed with a local two-component mixture, which gives the cluster's
   observed and intrinsic spreads (and, for a seed found in the data, its refined centre; a
   given centroid stays where the user or catalogue put it, so that a neighbouring cluster
   cannot pull it away).
2. **Filter.** ``"adaptive"`` (default): a star passes when its χ² distance to the centroid
   in (pmra, pmdec, parallax), with per-star variance σ_int² + σ_i² (intrinsic spread plus the
   star's own error; the observed spread when errors are unknown), is below the χ²₃ quantile of
   ±``filter_nsigma`` σ. ``"fixed"``: the paper's box |x − x̄| < δ, δ = ``fixed_widths``
   (0.5, 0.5 mas/yr, 0.2 mas), centred on the unrefined centroid.
3. **MST** over standardised tangent-plane (ξ, η) and parallax (:mod:`vo_ocml.membership.mst`).
4. **GMM** over standardised (ξ, η, pmra, pmdec, parallax) of the survivors: 2 components by
   default, or ``n_components="bic"`` (2…``max_components`` by BIC) for fields with a second
   cluster. The cluster is the component whose (pmra, pmdec, parallax) marginal density at
   the centroid is highest -- compact and centred on it; its posterior is the probability.

Rows are processed in a canonical order (sorted by ra, then dec), so the result does not
depend on the table's row order.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy.special import erf, gammaincinv
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from vo_ocml.errors import InputError
from vo_ocml.membership import mst
from vo_ocml.membership.base import (
    FEATURES, STAGE_FILTER, STAGE_GMM, STAGE_INCOMPLETE, STAGE_MST, STAGE_NO_CLUSTER, Centroid,
    MembershipResult, complete_mask,
)
from vo_ocml.membership.centroid import (best_measured, find_centroid, max_pm_dispersion,
                                         measure_cluster)
from vo_ocml.membership.sky import from_tangent_plane, sky_centre, tangent_plane
from vo_ocml.membership.radial_mixture import fit_radial_mixture

log = logging.getLogger(__name__)

#: parallax (mas) above which pm_gradient="auto" models the perspective gradient
NEARBY_PARALLAX = 2.0
#: fallback observed spread (pmra, pmdec, parallax) around a given centroid before refinement
DEFAULT_SPREAD = np.array([0.5, 0.5, 0.15])


class MSTGMM(BaseEstimator):
    """Open-cluster membership by filter → minimum spanning tree → Gaussian mixture.

    Parameters
    ----------
    centroid : Centroid or sequence of 3 floats, optional
        (pmra, pmdec, parallax) of the cluster in mas/yr and mas; None finds it in the data.
    filter : {"adaptive", "fixed"}
        Initial-filter mode (see the module docstring).
    filter_nsigma : float
        Adaptive filter half-width in standard deviations (3 keeps 99.7 % of members).
    fixed_widths : sequence of 3 floats
        Fixed-mode half-widths δ for (pmra, pmdec, parallax), mas/yr and mas.
    refine : bool
        Measure the cluster's spreads (and re-centre a data-found seed) from the data.
    mst_rule : {"paper", "code"}
        MST rule (see :mod:`vo_ocml.membership.mst`).
    mst_k : float
        Threshold = mean + ``mst_k`` × std.
    mst_neighbors : int
        Neighbours of the k-NN graph for the "paper" rule.
    mst_min_group : int
        "paper" rule: pieces with fewer stars after the cut are field.
    n_components : int or "bic"
        Mixture components, or "bic" to choose 2…``max_components`` by BIC.
    max_components : int
        Upper bound for "bic".
    mixture : {"radial", "gmm"}
        "radial" (default): cluster + field Gaussians in (pmra, pmdec, parallax), deconvolved
        with each star's errors, with a member fraction that varies with distance from the
        cluster's centre (:mod:`vo_ocml.membership.radial_mixture`); "gmm": the paper's
        scikit-learn Gaussian mixture over standardised (ξ, η, pmra, pmdec, parallax).
    pm_gradient : bool or "auto"
        "radial" mixture: let the cluster's mean proper motion and parallax vary linearly
        across the field (the perspective effect of a nearby cluster's space motion). "auto":
        only for clusters with parallax > 2 mas (closer than 500 pc).
    min_significance : float
        Detection significance below which no cluster is declared (data-driven centroid only).
    min_members : int
        Fewest stars with P > 0.5 for a cluster to be declared found.
    max_velocity_dispersion : float
        km/s. A candidate whose intrinsic proper-motion dispersion exceeds this at its parallax
        (σ_pm > σ_v ϖ / 4.74, and > 0.5 mas/yr) is a feature of the field, not a bound cluster:
        no cluster is declared. Open clusters have σ_v ≲ 1–3 km/s.
    max_fit_stars : int
        "radial" mixture: fit on a random sample of at most this many of the MST's survivors
        (speed on cones of millions of stars), then score every survivor with the fitted model.
    random_state : int or None
        Seed for every random step.

    Attributes
    ----------
    result_ : MembershipResult
        Probabilities, stages, step counts, centroid and details for every input row.
    probability_ : ndarray
        ``result_.probability``.
    centre_ : ndarray
        Refined (pmra, pmdec, parallax).
    intrinsic_spread_, observed_spread_ : ndarray
        The cluster's spreads per axis.
    mixture_ : RadialMixtureFit or GaussianMixture or None
        The fitted mixture (for "gmm": in the standardised 5-D space of ``scaler_``).
    cluster_component_ : int
        "gmm" only: index of the mixture component that is the cluster (-1 otherwise).
    """

    def __init__(self, centroid: Centroid | tuple[float, float, float] | None = None, *,
                 filter: str = "adaptive", filter_nsigma: float = 3.0,
                 fixed_widths: tuple[float, float, float] = (0.5, 0.5, 0.2),
                 refine: bool = True, mst_rule: str = "paper", mst_k: float = 3.0,
                 mst_neighbors: int = 10, mst_min_group: int = 5,
                 n_components: int | str = 2, max_components: int = 4,
                 mixture: str = "radial", pm_gradient: bool | str = "auto",
                 min_significance: float = 5.0, min_members: int = 10,
                 max_velocity_dispersion: float = 5.0, max_fit_stars: int = 20000,
                 random_state: int | None = 0) -> None:
        self.centroid = centroid
        self.filter = filter
        self.filter_nsigma = filter_nsigma
        self.fixed_widths = fixed_widths
        self.refine = refine
        self.mst_rule = mst_rule
        self.mst_k = mst_k
        self.mst_neighbors = mst_neighbors
        self.mst_min_group = mst_min_group
        self.n_components = n_components
        self.max_components = max_components
        self.mixture = mixture
        self.pm_gradient = pm_gradient
        self.min_significance = min_significance
        self.min_members = min_members
        self.max_velocity_dispersion = max_velocity_dispersion
        self.max_fit_stars = max_fit_stars
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if self.filter not in ("adaptive", "fixed"):
            raise InputError(f"filter must be 'adaptive' or 'fixed', not {self.filter!r}.")
        if self.mst_rule not in mst.RULES:
            raise InputError(f"mst_rule must be one of {mst.RULES}, not {self.mst_rule!r}.")
        if not (isinstance(self.n_components, int) and self.n_components >= 2) \
                and self.n_components != "bic":
            raise InputError(f"n_components must be an integer ≥ 2 or 'bic', not "
                             f"{self.n_components!r}.")
        if self.pm_gradient not in ("auto", True, False):
            raise InputError(f"pm_gradient must be 'auto', True or False, not {self.pm_gradient!r}.")
        if self.mixture not in ("radial", "gmm"):
            raise InputError(f"mixture must be 'radial' or 'gmm', not {self.mixture!r}.")
        if self.filter_nsigma <= 0 or any(w <= 0 for w in self.fixed_widths):
            raise InputError("filter widths (filter_nsigma, fixed_widths) must be positive.")

    @staticmethod
    def _check_X(X: Any, errors: Any) -> tuple[np.ndarray, np.ndarray | None]:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise InputError(f"X must have shape (n, 5) with columns {', '.join(FEATURES)}; "
                             f"got shape {X.shape}.")
        if len(X) == 0:
            raise InputError("The table is empty: there are no stars to classify.")
        if errors is not None:
            errors = np.asarray(errors, dtype=np.float64)
            if errors.shape != (len(X), 3):
                raise InputError(f"errors must have shape (n, 3) for pmra, pmdec, parallax; "
                                 f"got {errors.shape}.")
            errors = np.abs(errors)
            bad = ~np.isfinite(errors)
            if bad.all(axis=0).any():
                errors = None  # a whole error column is empty: treat errors as unknown
            elif bad.any():
                errors = np.where(bad, np.nanmedian(errors, axis=0), errors)
        return X, errors

    # ------------------------------------------------------------------ steps
    def _seed(self, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray):
        """Return (seed, spread guess, source, name, significance) or None (no cluster)."""
        c = self.centroid
        if c is not None:
            cen = c if isinstance(c, Centroid) else Centroid(*map(float, c), source="user")
            seed = cen.as_array()
            if not np.all(np.isfinite(seed)):
                raise InputError(f"The centroid {seed.tolist()} has missing values; give "
                                 "pmra, pmdec and parallax (mas/yr, mas/yr, mas).")
            guess = DEFAULT_SPREAD
            if cen.spread is not None and np.all(np.isfinite(cen.spread)):
                guess = np.maximum(np.asarray(cen.spread), 0.05)
            return seed, guess, cen.source, cen.name, np.nan
        det = find_centroid(kin, err, sky, random_state=self.random_state)
        if det is None or det.significance < self.min_significance:
            return None
        return det.centre, det.scale, "data", None, det.significance

    @staticmethod
    def _sky_target(sky: np.ndarray, kin: np.ndarray, centre: np.ndarray,
                    spread: np.ndarray) -> np.ndarray:
        """The cluster's sky position: median of the stars kinematically nearest the centroid."""
        d2 = np.sum(((kin - centre) / spread) ** 2, axis=1)
        near = d2 <= max(np.quantile(d2, 0.1), 1.0)
        return np.median(sky[near], axis=0)

    def _filter(self, kin: np.ndarray, err: np.ndarray | None, centre: np.ndarray,
                observed: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
        if self.filter == "fixed":
            return np.all(np.abs(kin - centre) < np.asarray(self.fixed_widths), axis=1)
        var = intrinsic**2 + err**2 if err is not None else np.broadcast_to(observed**2, kin.shape)
        d2 = np.sum((kin - centre) ** 2 / var, axis=1)
        level = erf(self.filter_nsigma / np.sqrt(2.0))
        return d2 < 2.0 * gammaincinv(1.5, level)  # the χ² quantile for 3 degrees of freedom

    def _velocity_dispersion(self, post: np.ndarray, kin: np.ndarray, err: np.ndarray | None,
                             centre: np.ndarray, mix_info: dict) -> tuple[float, float]:
        """The cluster's intrinsic pm dispersion (mas/yr) and the most a bound cluster allows.

        The bound is :func:`~vo_ocml.membership.centroid.max_pm_dispersion`.
        """
        if "cluster_intrinsic_sd" in mix_info:
            sd = np.asarray(mix_info["cluster_intrinsic_sd"][:2])
        else:  # plain GMM: the members' observed spread less their mean squared error
            w = post / max(post.sum(), 1e-9)
            var = np.sum(w[:, None] * (kin[:, :2] - np.sum(w[:, None] * kin[:, :2], 0)) ** 2, 0)
            if err is not None:
                var = np.maximum(var - np.sum(w[:, None] * err[:, :2] ** 2, 0), 0.0)
            sd = np.sqrt(var)
        return float(np.sqrt(np.mean(sd**2))), max_pm_dispersion(centre[2],
                                                                 self.max_velocity_dispersion)

    def _gradient(self, centre: np.ndarray) -> bool:
        if self.pm_gradient == "auto":
            return bool(centre[2] > NEARBY_PARALLAX)
        return bool(self.pm_gradient)

    def _field_choices(self) -> list[int]:
        if self.n_components == "bic":
            return list(range(1, self.max_components))
        return [self.n_components - 1]

    def _radial(self, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray,
                centre: np.ndarray, intrinsic: np.ndarray,
                target: np.ndarray) -> tuple[np.ndarray, dict, Any]:
        """Fit the radial cluster + field mixture(s); return probabilities, details, model."""
        fit_rows = np.arange(len(kin))
        if len(kin) > self.max_fit_stars:  # fit on a sample, score every star afterwards
            fit_rows = np.sort(np.random.default_rng(self.random_state).choice(
                len(kin), self.max_fit_stars, replace=False))
        fits = {}
        for m in self._field_choices():
            if len(fit_rows) >= 20 * (m + 1):
                fits[m] = fit_radial_mixture(
                    kin[fit_rows], None if err is None else err[fit_rows], sky[fit_rows], centre,
                    intrinsic, target, n_field=m, gradient=self._gradient(centre),
                    random_state=self.random_state)
        if not fits:
            raise ValueError("too few stars for a mixture")
        bics = {m + 1: f.bic(len(fit_rows)) for m, f in fits.items()}
        best = fits[min(fits, key=lambda m: bics[m + 1])]
        probability = best.probability if len(fit_rows) == len(kin) else best.predict(kin, err, sky)
        info = {"model": "radial", "n_components": len(best.field_weights) + 1, "bic": bics,
                "pm_gradient_per_deg": best.cluster_gradient.tolist(),
                "deconvolved": err is not None, "n_iter": best.n_iter,
                "cluster_mean": best.cluster_mean.tolist(),
                "cluster_intrinsic_sd": np.sqrt(np.diag(best.cluster_cov)).tolist(),
                "radial_bin_edges_deg": best.bin_edges[:-1].tolist(),
                "radial_member_fraction": best.fraction.tolist()}
        reason = (f"cluster component of a {info['n_components']}-component mixture (1 cluster + "
                  f"{len(best.field_weights)} field), deconvolved with the stars' errors: "
                  f"{'yes' if err is not None else 'no'}; intrinsic sd "
                  f"{np.round(info['cluster_intrinsic_sd'], 3).tolist()} mas/yr, mas/yr, mas")
        info["reason"] = reason
        info["n_fit_stars"] = int(len(fit_rows))
        return probability, info, best

    def _gmm(self, Z: np.ndarray, target: np.ndarray, target_var: np.ndarray
             ) -> tuple[np.ndarray, dict, GaussianMixture]:
        """The paper's mixture: scikit-learn's Gaussian mixture over standardised 5-D."""
        choices = [self.n_components] if self.n_components != "bic" else \
            list(range(2, self.max_components + 1))
        near = np.sum((Z - target) ** 2, axis=1)
        core = near <= np.quantile(near, 0.25)
        fits, bics = [], {}
        for k in choices:
            if len(Z) < 5 * k:
                continue
            gmm = GaussianMixture(k, covariance_type="full", random_state=self.random_state,
                                  n_init=1 if k == 2 else 3, reg_covar=1e-5)
            if k == 2:  # deterministic start: the stars nearest the cluster vs the rest
                gmm.set_params(means_init=np.vstack([Z[core].mean(axis=0), Z[~core].mean(axis=0)]),
                               weights_init=[0.25, 0.75], init_params="random_from_data")
            fits.append(gmm.fit(Z))
            bics[k] = float(gmm.bic(Z))
        if not fits:
            raise ValueError("too few stars for a mixture")
        gmm = min(fits, key=lambda g: bics[g.n_components])
        from scipy.stats import multivariate_normal  # slow to import; only this mode needs it
        # the cluster: the highest density at the cluster's position, allowing for the
        # uncertainty of that position (so a compact component slightly off-target still wins)
        dens = [float(multivariate_normal(gmm.means_[k], gmm.covariances_[k] + np.diag(target_var),
                                          allow_singular=True).logpdf(target))
                for k in range(gmm.n_components)]
        k = int(np.argmax(dens))
        info = {"model": "gmm", "n_components": gmm.n_components, "bic": bics,
                "component_log_density": dens, "cluster_component": k,
                "reason": f"component {k} of {gmm.n_components} has the highest density at the "
                          f"cluster's position and centroid (weight {gmm.weights_[k]:.3f})"}
        return gmm.predict_proba(Z)[:, k], info, gmm

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any = None, errors: Any = None) -> "MSTGMM":
        """Fit on stars ``X`` (n, 5): ra, dec (deg), pmra, pmdec (mas/yr), parallax (mas).

        Parameters
        ----------
        X : array-like, shape (n, 5)
            Astrometry; rows with a non-finite value are kept as "incomplete".
        y : ignored
        errors : array-like, shape (n, 3), optional
            Standard errors of pmra, pmdec, parallax (missing values → the median error).

        Returns
        -------
        MSTGMM
            self, fitted.
        """
        self._check_params()
        X, errors = self._check_X(X, errors)
        n = len(X)
        ok = complete_mask(X)
        if not ok.any():
            raise InputError(f"None of the {n} rows has complete astrometry (finite ra, dec, "
                             "pmra, pmdec and parallax): there is nothing to classify.")
        rows = np.flatnonzero(ok)
        rows = rows[np.lexsort((X[rows, 1], X[rows, 0]))]  # canonical order: by ra, then dec
        Xc = X[rows]
        err = errors[rows] if errors is not None else None
        kin = Xc[:, 2:5]
        c = self.centroid
        if isinstance(c, Centroid) and c.ra is not None and c.dec is not None:
            ra0, dec0 = c.ra, c.dec
        else:
            ra0, dec0 = sky_centre(Xc[:, 0], Xc[:, 1])
        sky = tangent_plane(Xc[:, 0], Xc[:, 1], ra0, dec0)

        probability = np.full(n, np.nan)
        stage = np.full(n, STAGE_INCOMPLETE, dtype=object)
        counts = {"cone": n, "complete": int(ok.sum())}
        params = self.get_params()
        params["centroid"] = None if c is None else (
            c.as_array().tolist() if isinstance(c, Centroid) else list(map(float, c)))
        seed = self._seed(kin, err, sky)
        fit = None
        if seed is not None and self.refine and self.filter == "adaptive":
            good = best_measured(err, len(kin))
            fit = measure_cluster(kin[good], None if err is None else err[good], seed[0], seed[1],
                                  random_state=self.random_state,
                                  velocity_dispersion=self.max_velocity_dispersion)
            if fit is None and seed[2] == "data":
                return self._no_cluster(probability, stage, rows, counts, params,
                                        "the overdensity found in proper motion and parallax "
                                        "could not be measured as a bound cluster")
        if seed is None:
            return self._no_cluster(probability, stage, rows, counts, params,
                                    "no compact overdensity in proper motion and parallax "
                                    f"reached significance {self.min_significance}")
        centre, guess, source, name, significance = seed
        if fit is not None:  # a given centroid stays put: only a data seed is re-centred
            observed, intrinsic = fit.observed_spread, fit.intrinsic_spread
            centre = fit.centre if source == "data" else np.asarray(centre, float)
        else:
            observed = intrinsic = np.asarray(guess, float)
        passed = self._filter(kin, err, centre, observed, intrinsic)
        counts["filter"] = int(passed.sum())
        stage[rows] = STAGE_FILTER
        probability[rows] = 0.0
        i_f = np.flatnonzero(passed)
        if len(i_f) < max(self.min_members, 10):
            return self._no_cluster(probability, stage, rows, counts, params,
                                    f"only {len(i_f)} stars pass the initial filter")
        zf = StandardScaler().fit_transform(np.column_stack([sky[i_f], kin[i_f, 2]]))
        pruning = mst.prune(zf, rule=self.mst_rule, k_sigma=self.mst_k,
                            n_neighbors=self.mst_neighbors, min_group=self.mst_min_group)
        i_m = i_f[pruning.keep]
        stage[rows[i_f[~pruning.keep]]] = STAGE_MST
        counts["mst"] = int(len(i_m))
        target = self._sky_target(sky[i_m], kin[i_m], centre, observed)
        e_m = err[i_m] if err is not None else None
        try:
            if self.mixture == "radial":
                post, mix_info, model = self._radial(kin[i_m], e_m, sky[i_m], centre, intrinsic,
                                                     target)
                scaler = None
            else:
                feats = np.column_stack([sky[i_m], kin[i_m]])
                scaler = StandardScaler().fit(feats)
                t5 = (np.concatenate([target, centre]) - scaler.mean_) / scaler.scale_
                var5 = np.concatenate([np.full(2, 0.25), (observed / scaler.scale_[2:]) ** 2])
                post, mix_info, model = self._gmm(scaler.transform(feats), t5, var5)
        except ValueError:
            return self._no_cluster(probability, stage, rows, counts, params,
                                    f"only {len(i_m)} stars survive the MST")
        probability[rows[i_m]] = post
        stage[rows[i_m]] = STAGE_GMM
        counts["gmm"] = int(np.sum(post > 0.5))
        counts["p>0.8"] = int(np.sum(post > 0.8))
        if counts["gmm"] < self.min_members:
            return self._no_cluster(probability, stage, rows, counts, params,
                                    f"the cluster component holds only {counts['gmm']} stars "
                                    f"with P > 0.5 (fewer than min_members={self.min_members})")
        sigma_v, bound = self._velocity_dispersion(post, kin[i_m], e_m, centre, mix_info)
        if sigma_v > bound:
            return self._no_cluster(
                probability, stage, rows, counts, params,
                f"the best candidate's intrinsic proper-motion dispersion, {sigma_v:.2f} mas/yr, "
                f"exceeds what a bound cluster can have at its parallax ({bound:.2f} mas/yr, i.e. "
                f"{self.max_velocity_dispersion} km/s): it is a feature of the field")
        members = post > 0.5
        mxi, meta = np.average(sky[i_m], axis=0, weights=post)
        ra_c, dec_c = from_tangent_plane(mxi, meta, ra0, dec0)
        fitted = np.asarray(mix_info.get("cluster_mean", np.average(kin[i_m], axis=0, weights=post)))
        centroid = Centroid(*map(float, fitted), source=source,
                            name=name if name else (c.name if isinstance(c, Centroid) else None),
                            ra=ra_c, dec=dec_c, spread=tuple(map(float, intrinsic)))
        details = {
            "detection_significance": significance,
            "seed": np.asarray(seed[0], float).tolist(),
            "filter_centre": centre.tolist(),
            "observed_spread": observed.tolist(),
            "intrinsic_spread": intrinsic.tolist(),
            "cluster_component_reason": mix_info.pop("reason"),
            "mixture": mix_info,
            "mst_edge_weights": pruning.edge_weights,
            "mst_threshold": pruning.threshold,
            "n_members_p05": int(members.sum()),
        }
        self.result_ = MembershipResult(
            probability=probability, stage=stage.astype(str), step_counts=counts,
            centroid=centroid, method="mstgmm", parameters=params, details=details)
        self.centre_, self.observed_spread_, self.intrinsic_spread_ = centre, observed, intrinsic
        self.mixture_, self.scaler_ = model, scaler
        self.cluster_component_ = mix_info.get("cluster_component", -1)
        self.sky_origin_ = (ra0, dec0)
        self.probability_ = probability
        return self

    def _no_cluster(self, probability, stage, rows, counts, params, reason) -> "MSTGMM":
        log.warning("no cluster found: %s", reason)
        probability[rows] = 0.0
        stage[rows] = STAGE_NO_CLUSTER
        self.result_ = MembershipResult(
            probability=probability, stage=stage.astype(str), step_counts=counts, centroid=None,
            method="mstgmm", parameters=params, details={"no_cluster_reason": reason})
        self.centre_ = self.observed_spread_ = self.intrinsic_spread_ = None
        self.mixture_, self.scaler_, self.cluster_component_ = None, None, -1
        self.probability_ = probability
        return self

    def predict_proba(self, X: Any, errors: Any = None) -> np.ndarray:
        """Membership probabilities of stars ``X`` under the fitted filter and mixture.

        New stars pass the fitted filter and get the cluster component's posterior (the MST
        pruning belongs to the fitted sample and is not re-applied). Incomplete rows get NaN.

        Returns
        -------
        ndarray, shape (n, 2)
            Columns: P(field), P(member).
        """
        if not hasattr(self, "result_"):
            raise InputError("This MSTGMM is not fitted yet: call fit() first.")
        X, errors = self._check_X(X, errors)
        p = np.full(len(X), np.nan)
        ok = complete_mask(X)
        p[ok] = 0.0
        if self.mixture_ is not None and ok.any():
            idx = np.flatnonzero(ok)
            kin = X[idx, 2:5]
            err = errors[idx] if errors is not None else None
            passed = self._filter(kin, err, self.centre_, self.observed_spread_,
                                  self.intrinsic_spread_)
            sel = idx[passed]
            if len(sel):
                sky = tangent_plane(X[sel, 0], X[sel, 1], *self.sky_origin_)
                if self.scaler_ is None:
                    p[sel] = self.mixture_.predict(X[sel, 2:5], None if err is None
                                                   else err[passed], sky)
                else:
                    Z = self.scaler_.transform(np.column_stack([sky, X[sel, 2:5]]))
                    p[sel] = self.mixture_.predict_proba(Z)[:, self.cluster_component_]
        return np.column_stack([1.0 - p, p])
