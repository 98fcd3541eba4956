"""The clusters of a joint run on one figure: proper-motion plane and sky, coloured by cluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from vo_ocml.analysis.plots import DPI
from vo_ocml.membership.sky import sky_centre, tangent_plane

#: most field stars drawn (a random subsample)
MAX_FIELD = 30_000
#: pm window: the members' range widened by this fraction on each side
PM_MARGIN = 0.5


def plot_clusters(annotated, random_state: int = 0) -> Figure:
    """Proper motions and sky positions, field in grey and each cluster in its own colour."""
    table, clusters = annotated.table, annotated.clusters
    arrays = annotated.columns.arrays(table)
    P = annotated.result.cluster_probability
    K = len(clusters)
    best = np.argmax(np.nan_to_num(P[:, :K], nan=-1.0), axis=1)
    member = np.nan_to_num(np.take_along_axis(P[:, :K], best[:, None], 1)[:, 0]) \
        > annotated.threshold
    ok = np.isfinite(arrays["ra"]) & np.isfinite(arrays["dec"])
    origin = sky_centre(arrays["ra"][ok], arrays["dec"][ok])
    xy = np.full((len(table), 2), np.nan)
    xy[ok] = tangent_plane(arrays["ra"][ok], arrays["dec"][ok], *origin)
    arrays = {**arrays, "xi": xy[:, 0], "eta": xy[:, 1]}
    fig = Figure(figsize=(12.0, 5.2))
    ax_pm, ax_sky = fig.subplots(1, 2)
    field = np.flatnonzero(~member & np.isfinite(arrays["pmra"]))
    if field.size > MAX_FIELD:
        field = np.random.default_rng(random_state).choice(field, MAX_FIELD, replace=False)
    for ax, (x, y) in ((ax_pm, ("pmra", "pmdec")), (ax_sky, ("xi", "eta"))):
        ax.scatter(arrays[x][field], arrays[y][field], s=2, c="0.75", lw=0,
                   label=f"field ({(~member).sum():,})", rasterized=True)
        for k, c in enumerate(clusters):
            sel = member & (best == k)
            ax.scatter(arrays[x][sel], arrays[y][sel], s=6, lw=0, color=f"C{k % 10}",
                       label=f"{c.name} ({sel.sum():,})")
    if member.any():
        for name, setter in (("pmra", ax_pm.set_xlim), ("pmdec", ax_pm.set_ylim)):
            lo, hi = np.nanpercentile(arrays[name][member], [0.5, 99.5])
            pad = PM_MARGIN * max(hi - lo, 0.5)
            setter(lo - pad, hi + pad)
    ax_pm.set_xlabel("pmra (mas/yr)")
    ax_pm.set_ylabel("pmdec (mas/yr)")
    ax_pm.set_title("proper motions, coloured by cluster")
    ax_pm.legend(loc="best", fontsize="small", markerscale=3, framealpha=0.8)
    ax_sky.set_xlabel(f"ξ (deg east of ra {origin[0]:.3f})")
    ax_sky.set_ylabel(f"η (deg north of dec {origin[1]:+.3f})")
    ax_sky.invert_xaxis()
    ax_sky.set_aspect("equal", adjustable="datalim")
    ax_sky.set_title("sky (tangent plane), coloured by cluster")
    fig.tight_layout()
    return fig


def save_cluster_plot(annotated, directory: str | Path) -> Path:
    """Write ``clusters.png`` in ``directory``."""
    path = Path(directory) / "clusters.png"
    plot_clusters(annotated).savefig(path, dpi=DPI)
    return path
