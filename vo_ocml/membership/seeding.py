"""Where a filter → MST → mixture fit starts: a given centroid, or blind detection's candidates.

:class:`CandidateSeeds` is a mixin of :class:`~vo_ocml.membership.mstgmm.MSTGMM`. A blind run
(of one cluster or several) tries the candidates that reach ``min_significance`` in turn, most
significant first, until one is confirmed as a cluster: a handful of stars that no mixture
confirms (too few survive the MST, too hot for a bound cluster) can outrank a rich cluster
on significance.
"""

from __future__ import annotations

import numpy as np

from vo_ocml.membership.base import as_centroid
from vo_ocml.membership.detection import MAX_CANDIDATES, Detection, find_candidates
from vo_ocml.membership.scope import DEFAULT_SPREAD, DETECTION_SKY_WINDOW


class CandidateSeeds:
    """The seeding steps of an estimator with ``centroid``, ``min_significance``,
    ``random_state`` and ``_n_clusters()``; sets ``candidates_`` (most significant first) and
    ``_chosen``, the index of the candidate the fit starts from.

    A seed is (centre (pmra, pmdec, parallax), spread guess, source, name, significance).
    """

    candidates_: list[Detection]
    _chosen: int = 0

    def _seed(self, kin: np.ndarray, err: np.ndarray | None, sky: np.ndarray) -> tuple | None:
        """The given centroid's seed, else the most significant candidate's, or None (no
        candidate reaches ``min_significance``)."""
        self.candidates_, self._chosen = [], 0
        cen = as_centroid(self.centroid)
        if cen is not None:
            guess = DEFAULT_SPREAD
            if cen.spread is not None and np.all(np.isfinite(cen.spread)):
                guess = np.maximum(np.asarray(cen.spread), 0.05)
            return cen.as_array(), guess, cen.source, cen.name, np.nan
        extra = {"max_candidates": max(MAX_CANDIDATES, self._n_clusters()),
                 "resolve_sky": self.min_significance} if self._n_clusters() > 1 else {}
        self.candidates_ = find_candidates(kin, err, sky, random_state=self.random_state,
                                           **extra)
        if not self.candidates_ or self.candidates_[0].significance < self.min_significance:
            return None
        return self._data_seed(0)

    def _data_seed(self, k: int) -> tuple:
        """The seed of candidate ``k``."""
        det = self.candidates_[k]
        return det.centre, det.scale, "data", None, det.significance

    def _seed_order(self, seed: tuple) -> list[int]:
        """The candidates to try in turn: only the first for a given centroid, else every one
        that reaches ``min_significance`` (in a run of several clusters, the first confirmed
        is the primary and :mod:`~vo_ocml.membership.joint` models the others)."""
        if seed[2] != "data":
            return [0]
        return [k for k, d in enumerate(self.candidates_)
                if d.significance >= self.min_significance]

    def _detection(self) -> Detection | None:
        """The candidate the fit starts from."""
        return self.candidates_[self._chosen] if self.candidates_ else None

    def _detected_sky(self) -> tuple[np.ndarray, float] | None:
        """The detection's sky centre (ξ, η) and a window around it (deg), when it has one."""
        det = self._detection()
        if det is None or det.sky_centre is None:
            return None
        return det.sky_centre, DETECTION_SKY_WINDOW * det.sky_scale
