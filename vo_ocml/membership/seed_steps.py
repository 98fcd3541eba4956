"""A seed's first steps in the single model: measured, filtered, pruned by the MST.

:class:`SeedSteps` is a mixin of :class:`~vo_ocml.membership.mstgmm.MSTGMM`. A several-cluster
run measures each seed with its significant neighbours modelled beside it (two clusters a few
spreads apart are otherwise measured as one hot cluster); a blind candidate found in kinematics
alone is first taken through these steps as a single run takes them, and through the single
model's fit, so that only a candidate a single run confirms can be its first cluster.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.preprocessing import StandardScaler

from vo_ocml.membership import joint_seeds, mst
from vo_ocml.membership.base import as_centroid
from vo_ocml.membership.centroid import best_measured, measure_cluster
from vo_ocml.membership.sky import sky_target

#: fewest stars the filter must pass (and at least ``min_members``)
MIN_FILTERED = 10
#: fewest well-measured stars in a detection's sky window to measure the seed there (else it is
#: measured across the field)
MIN_NEAR = 10


class Steps(NamedTuple):
    """Where the steps around one seed ended."""

    centre: np.ndarray  #: (pmra, pmdec, parallax) the filter is centred on
    observed: np.ndarray  #: the cluster's observed spread per axis
    intrinsic: np.ndarray  #: its intrinsic spread per axis
    passed: np.ndarray  #: (n,) bool: the stars that pass the filter
    rows: np.ndarray  #: the rows the MST kept
    pruning: mst.MSTPruning  #: the MST step's outcome


class SeedSteps:
    """The steps of an estimator with MSTGMM's parameters, ``_filter``, ``_mst_k`` and the
    seeding of :class:`~vo_ocml.membership.seeding.CandidateSeeds`. A seed is (centre, spread
    guess, source, name, significance)."""

    def _steps(self, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray, seed: tuple,
               others: tuple = (None, None), counted: dict | None = None) -> Steps | str:
        """measure → filter → MST around ``seed`` (``others``: the neighbours' kinematic
        centres and spreads its measurement models; the star counts of the filter and MST go
        to ``counted``), or why it is no cluster."""
        counted = {} if counted is None else counted
        fit = None
        if self.refine and self.filter == "adaptive":
            good = best_measured(err, len(kin))
            found_at = self._detected_sky() if seed[2] == "data" else None
            if found_at is not None:  # measure it where it was found, not across the field
                near = np.all(np.abs(sky[good] - found_at[0]) <= found_at[1], axis=1)
                if near.sum() >= MIN_NEAR:
                    good = good[near]
            fit = measure_cluster(kin[good], None if err is None else err[good], seed[0], seed[1],
                                  random_state=self.random_state,
                                  velocity_dispersion=self.max_velocity_dispersion,
                                  others=others[0], others_spread=others[1])
            if fit is None and seed[2] == "data":
                return ("the overdensity found in proper motion and parallax could not be "
                        "measured as a bound cluster")
        centre = np.asarray(seed[0], float)
        if fit is not None:  # a given centroid stays put: only a data seed is re-centred
            observed, intrinsic = fit.observed_spread, fit.intrinsic_spread
            centre = fit.centre if seed[2] == "data" else centre
        else:
            observed = intrinsic = np.asarray(seed[1], float)
        passed = self._filter(kin, err, centre, observed, intrinsic)
        i_f = np.flatnonzero(passed)
        counted["filter"] = len(i_f)
        if len(i_f) < max(self.min_members, MIN_FILTERED):
            return f"only {len(i_f)} stars pass the initial filter"
        zf = StandardScaler().fit_transform(np.column_stack([sky[i_f], kin[i_f, 2]]))
        pruning = mst.prune(zf, rule=self.mst_rule, k_sigma=self._mst_k(),
                            n_neighbors=self.mst_neighbors, min_group=self.mst_min_group)
        counted["mst"] = int(pruning.keep.sum())
        return Steps(centre, observed, intrinsic, passed, i_f[pruning.keep], pruning)

    def _found_seed(self, kin: np.ndarray, sky: np.ndarray, seed: tuple,
                    steps: Steps) -> joint_seeds.Seed:
        """The cluster ``steps`` found around ``seed``, as a joint model's first seed (its
        ``sky``: where it was detected, else where its MST survivors concentrate)."""
        _, _, source, name, significance = seed
        c = as_centroid(self.centroid)
        found_at = self._detected_sky() if source == "data" else None
        rows = steps.rows
        target = found_at[0] if found_at is not None else \
            sky_target(sky[rows], kin[rows], steps.centre, steps.observed)
        return joint_seeds.Seed(
            steps.centre, steps.observed, steps.intrinsic, target, significance, source,
            name or getattr(c, "name", None), r50=getattr(c, "r50", None),
            window=found_at[1] if found_at is not None else np.inf,
            detection=self._detection() if source == "data" else None)
