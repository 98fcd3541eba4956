"""Nominal Gaia (E)DR3 astrometric precision as a function of G, for tables without errors.

Gaia Collaboration, Brown et al. 2021 (A&A 649, A1), Table 4 / Lindegren et al. 2021
(A&A 649, A2): five-parameter solutions have parallax uncertainties of 0.02–0.03 mas at
G < 15, 0.07 mas at G = 17, 0.5 mas at G = 20 and 1.3 mas at G = 21, and proper-motion
uncertainties of 0.02–0.03, 0.07, 0.5 and 1.4 mas/yr at the same magnitudes. Interpolated
linearly in log σ between those points and held constant beyond them. For Gaia DR2 data these
are optimistic by about a factor of two; real error columns are always preferred.
"""

from __future__ import annotations

import numpy as np

_G = np.array([12.0, 15.0, 17.0, 20.0, 21.0])
_PARALLAX = np.array([0.02, 0.025, 0.07, 0.5, 1.3])
_PM = np.array([0.02, 0.025, 0.07, 0.5, 1.4])

#: Lindegren et al. (2021, A&A 649, A4): the global offset of Gaia EDR3/DR3 parallaxes (mas)
GLOBAL_ZERO_POINT = -0.017
#: what the provenance says when errors were estimated
CITATION = "estimated from G: Gaia EDR3 nominal precision (Lindegren et al. 2021)"


def nominal_errors(g_mag: np.ndarray) -> np.ndarray:
    """Typical (pmra, pmdec, parallax) standard errors for G magnitudes, shape (n, 3).

    Stars without a finite G get the error of G = 20 (a faint star: a cautious guess).
    """
    g = np.where(np.isfinite(g_mag), g_mag, 20.0)
    plx = np.exp(np.interp(g, _G, np.log(_PARALLAX)))
    pm = np.exp(np.interp(g, _G, np.log(_PM)))
    return np.column_stack([pm, pm, plx])
