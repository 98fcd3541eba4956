"""Compare each cluster's batch result with the input catalogue's own values.

For a cluster found, each mean is compared with the catalogue's in units of the combined
error: Δ/σ = (ours − catalogue) / √(SE_ours² + SE_cat²), where SE_ours is the members' standard
error and SE_cat = s/√N is the catalogue's standard error of the mean from its members'
dispersion s and number N (Hunt & Reffert 2023 list both). Systematic errors (Gaia's parallax
zero-point varies on degree scales at the ~0.01–0.02 mas level) are not included, so rich
clusters with tiny statistical errors show large Δ/σ for tiny Δ. The N ratio is
N(P > threshold) / N_catalogue; cones cut at other magnitudes or boxes shift it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

__all__ = ["add_comparison", "COMPARISON_COLUMNS"]

#: (column, unit, description) added to the summary
COMPARISON_COLUMNS = (
    ("cat_catalogue", None, "catalogue the reference values come from"),
    ("cat_pmra", "mas/yr", "catalogue mean pmra"),
    ("cat_pmdec", "mas/yr", "catalogue mean pmdec"),
    ("cat_parallax", "mas", "catalogue mean parallax"),
    ("cat_n", None, "catalogue number of members"),
    ("cat_distance", "pc", "1000 / catalogue parallax"),
    ("d_pmra_sigma", None, "(pmra − catalogue) / combined standard error"),
    ("d_pmdec_sigma", None, "(pmdec − catalogue) / combined standard error"),
    ("d_pm_sigma", None, "√(d_pmra_sigma² + d_pmdec_sigma²)"),
    ("d_parallax_sigma", None, "(parallax − catalogue) / combined standard error"),
    ("n_ratio", None, "N(P > threshold) / catalogue N"),
)


def _ref(references: Sequence[dict], key: str) -> np.ndarray:
    return np.array([float(r.get(key, np.nan)) if r else np.nan for r in references])


def _delta(ours: np.ndarray, ours_se: np.ndarray, cat: np.ndarray, spread: np.ndarray,
           n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        cat_se = spread / np.sqrt(n)
        return (ours - cat) / np.sqrt(ours_se**2 + cat_se**2)


def add_comparison(summary: Table, references: Sequence[dict]) -> None:
    """Add the catalogue values and the Δ/σ, N-ratio columns to ``summary`` (in place).

    Parameters
    ----------
    summary : astropy.table.Table
        The batch summary (columns pmra, pmra_se, …, n_members, status).
    references : sequence of dict
        Per row, the catalogue values (``pmra``, ``pmdec``, ``parallax``, ``s_pmra``,
        ``s_pmdec``, ``s_parallax``, ``n_members``, ``catalogue``); empty when uncatalogued.
    """
    n = _ref(references, "n_members")
    found = np.asarray(summary["status"]) == "found"
    values = {
        "cat_catalogue": np.array([str(r.get("catalogue", "")) if r else "" for r in references],
                                  dtype=str),
        "cat_pmra": _ref(references, "pmra"), "cat_pmdec": _ref(references, "pmdec"),
        "cat_parallax": _ref(references, "parallax"), "cat_n": n,
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        values["cat_distance"] = np.where(values["cat_parallax"] > 0,
                                          1000.0 / values["cat_parallax"], np.nan)
    for q in ("pmra", "pmdec", "parallax"):
        d = _delta(np.asarray(summary[q], float), np.asarray(summary[f"{q}_se"], float),
                   values[f"cat_{q}"], _ref(references, f"s_{q}"), n)
        values[f"d_{q}_sigma"] = np.where(found, d, np.nan)
    values["d_pm_sigma"] = np.hypot(values["d_pmra_sigma"], values["d_pmdec_sigma"])
    with np.errstate(invalid="ignore", divide="ignore"):
        values["n_ratio"] = np.where(found & (n > 0), np.asarray(summary["n_members"]) / n, np.nan)
    for name, unit, description in COMPARISON_COLUMNS:
        summary[name] = values[name]
        summary[name].unit = unit
        summary[name].description = description
