"""The pictures astronomers judge a membership by (matplotlib, PNG).

Members (``ocml_prob > threshold``) are drawn coloured by their probability over the field in
grey. The field is a random subsample of at most ``max_field`` stars (50,000 by default), drawn
rasterised, so a two-million-row table plots in seconds; histograms and the parallax panel use
every row. Legends sit at fixed corners (matplotlib's "best" placement scans every marker).
Figures are made with :class:`matplotlib.figure.Figure` directly (no pyplot, no global state),
so plotting is thread-safe and needs no display.

Start from :meth:`PlotData.from_run` (a run or an annotated table), then call the
``plot_*`` functions, or :func:`save_plots` to write every plot that applies to a directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.stats import gaussian_kde

from vo_ocml.analysis._annotated import run_view
from vo_ocml.analysis.king import KingFit
from vo_ocml.analysis.validate import Validation

#: colour of field stars
FIELD_COLOUR = "0.6"
#: colour map of member probabilities
CMAP = "viridis"
#: resolution of saved PNGs
DPI = 110
#: largest sample used for a KDE curve
KDE_SAMPLE = 10_000
#: stages of stars rejected before the clustering step (not "non-members" in the KDE figure)
_EARLY_STAGES = ("incomplete", "filter", "no_cluster")

_LABELS = {
    "ra": "RA (deg)", "dec": "Dec (deg)", "pmra": r"$\mu_{\alpha*}$ (mas/yr)",
    "pmdec": r"$\mu_\delta$ (mas/yr)", "parallax": r"$\varpi$ (mas)",
}


@dataclass
class PlotData:
    """Everything the plots need, prepared once from an annotated table.

    Attributes
    ----------
    arrays : dict of str to ndarray
        Canonical quantities (:func:`vo_ocml.io.columns.resolve_columns`).
    probability : ndarray
        ``ocml_prob`` (NaN for incomplete rows).
    member : ndarray of bool
        ``probability > threshold``.
    threshold : float
        Membership threshold.
    field_rows : ndarray of int
        The field stars drawn (a random subsample of at most ``max_field`` non-members).
    member_rows : ndarray of int
        The members drawn, by increasing probability (the surest on top).
    n_field : int
        Number of non-members with finite positions.
    stage : ndarray of str or None
        ``ocml_stage``.
    dec_group : ndarray of int or None
        ``ocml_dec_group`` (DEC only).
    centroid : (float, float, float) or None
        The run's centroid (pmra, pmdec, parallax) from the provenance.
    mst_edge_weights : ndarray or None
        MST edge weights (MST+GMM only), with ``mst_threshold``.
    mst_threshold : float or None
        The edge-weight cut.
    title : str
        Prefix of the figure titles (the cluster's name when known).
    """

    arrays: dict[str, np.ndarray]
    probability: np.ndarray
    member: np.ndarray
    threshold: float
    field_rows: np.ndarray
    member_rows: np.ndarray
    n_field: int
    stage: np.ndarray | None
    dec_group: np.ndarray | None
    centroid: tuple[float, float, float] | None
    mst_edge_weights: np.ndarray | None
    mst_threshold: float | None
    title: str

    @classmethod
    def from_run(cls, run: Any, *, threshold: float | None = None, details: dict[str, Any] | None = None,
                 max_field: int = 50_000, max_members: int = 200_000, random_state: int = 0,
                 title: str | None = None) -> PlotData:
        """Prepare a run for plotting.

        Parameters
        ----------
        run : vo_ocml.annotated.Annotated or astropy.table.Table
            The run, or a table annotated by vo_ocml.
        threshold : float, optional
            Membership threshold; by default the run's.
        details : dict, optional
            Replaces the run's ``MembershipResult.details`` (where the MST edge weights and
            threshold are read); a plain table has none.
        max_field, max_members : int
            Most field stars / members drawn as markers.
        random_state : int
            Seed of the field subsample.
        title : str, optional
            Prefix of figure titles; by default the cluster's name when known.
        """
        view = run_view(run, threshold)
        arrays, p, member = view.arrays, view.probability, view.member
        sky = np.isfinite(arrays["ra"]) & np.isfinite(arrays["dec"])
        field = np.flatnonzero(~member & sky)
        rng = np.random.default_rng(random_state)
        if field.size > max_field:
            field = np.sort(rng.choice(field, size=max_field, replace=False))
        members = np.flatnonzero(member)
        if members.size > max_members:
            members = np.sort(rng.choice(members, size=max_members, replace=False))
        members = members[np.argsort(p[members], kind="stable")]
        values = {d.get("name"): d.get("value") for d in view.params}
        centroid = None
        if all(f"ocml_centroid_{k}" in values for k in ("pmra", "pmdec", "parallax")):
            centroid = tuple(float(values[f"ocml_centroid_{k}"]) for k in ("pmra", "pmdec", "parallax"))
        details = view.details if details is None else details
        weights = details.get("mst_edge_weights")
        cut = details.get("mst_threshold")
        return cls(
            arrays=arrays, probability=p, member=member, threshold=view.threshold, field_rows=field,
            member_rows=members, n_field=int((~member & sky).sum()), stage=view.stage,
            dec_group=view.dec_group, centroid=centroid,
            mst_edge_weights=None if weights is None else np.asarray(weights, dtype=float),
            mst_threshold=None if cut is None else float(cut),
            title=view.name if title is None else title,
        )

    @property
    def has_photometry(self) -> bool:
        """Whether G and BP−RP are available."""
        return "phot_g_mean_mag" in self.arrays and "bp_rp" in self.arrays

    def field_label(self) -> str:
        """Legend label of the field markers, saying when they are a subsample."""
        if self.field_rows.size < self.n_field:
            return f"field ({self.field_rows.size:,} of {self.n_field:,} shown)"
        return f"field ({self.n_field:,})"


def _axes(ax: Axes | None, size: tuple[float, float] = (6.0, 5.0)) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def _title(data: PlotData, text: str) -> str:
    return f"{data.title}: {text}" if data.title else text


def _scatter(data: PlotData, ax: Axes, x: str, y: str, colorbar: bool = True) -> None:
    """Field in grey, members coloured by probability."""
    a, f, m = data.arrays, data.field_rows, data.member_rows
    ax.scatter(a[x][f], a[y][f], s=2, c=FIELD_COLOUR, alpha=0.5, lw=0, rasterized=True,
               label=data.field_label())
    sc = ax.scatter(a[x][m], a[y][m], s=7, c=data.probability[m], cmap=CMAP, vmin=data.threshold,
                    vmax=1.0, lw=0, rasterized=True,
                    label=f"members, P > {data.threshold:g} ({int(data.member.sum()):,})")
    if colorbar:
        ax.figure.colorbar(sc, ax=ax, label="membership probability", pad=0.01)
    ax.legend(loc="upper right", fontsize="small", markerscale=2, framealpha=0.8)


def _range(values: np.ndarray, lo: float = 0.5, hi: float = 99.5) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return (0.0, 1.0)
    a, b = np.percentile(v, [lo, hi])
    pad = 0.03 * (b - a) if b > a else 0.5
    return float(a - pad), float(b + pad)


def _pm_window(data: PlotData) -> tuple[tuple[float, float], tuple[float, float]]:
    """Proper-motion limits: around the members (±6 spreads, at least ±1.5 mas/yr), within the field."""
    a = data.arrays
    sample = np.concatenate([data.field_rows, data.member_rows])
    limits = []
    for name in ("pmra", "pmdec"):
        full = _range(a[name][sample])
        m = a[name][data.member_rows]
        m = m[np.isfinite(m)]
        if m.size < 3:
            limits.append(full)
            continue
        q16, q50, q84 = np.percentile(m, [16, 50, 84])
        half = max(6 * (q84 - q16) / 2, 1.5)
        limits.append((max(q50 - half, full[0]), min(q50 + half, full[1])))
    return limits[0], limits[1]


def plot_cmd(data: PlotData, ax: Axes | None = None) -> Figure:
    """Colour–magnitude diagram: G against BP−RP, G increasing downwards."""
    ax = _axes(ax)
    if not data.has_photometry:
        ax.text(0.5, 0.5, "no G / BP−RP photometry", ha="center", va="center", transform=ax.transAxes)
        return ax.figure
    _scatter(data, ax, "bp_rp", "phot_g_mean_mag")
    sample = np.concatenate([data.field_rows, data.member_rows])
    x0, x1 = _range(data.arrays["bp_rp"][data.field_rows])
    if data.member_rows.size:
        m0, m1 = _range(data.arrays["bp_rp"][data.member_rows], 0.2, 99.8)
        x0, x1 = min(x0, m0), max(x1, m1)
    ax.set_xlim(x0, x1)
    g0, g1 = _range(data.arrays["phot_g_mean_mag"][sample], 0.0, 100.0)
    ax.set_ylim(g1, g0)
    ax.set_xlabel(r"$G_{BP} - G_{RP}$ (mag)")
    ax.set_ylabel("G (mag)")
    ax.set_title(_title(data, "colour–magnitude diagram"))
    return ax.figure


def plot_pm(data: PlotData, ax: Axes | None = None) -> Figure:
    """Proper-motion plane around the members, with the run's centroid."""
    ax = _axes(ax)
    _scatter(data, ax, "pmra", "pmdec")
    if data.centroid is not None:
        ax.plot(data.centroid[0], data.centroid[1], marker="+", ms=16, mew=2, color="crimson",
                ls="none", label="centroid")
        ax.legend(loc="upper right", fontsize="small", markerscale=1, framealpha=0.8)
    xlim, ylim = _pm_window(data)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(_LABELS["pmra"])
    ax.set_ylabel(_LABELS["pmdec"])
    ax.set_title(_title(data, "proper motions"))
    return ax.figure


def plot_parallax(data: PlotData, ax: Axes | None = None) -> Figure:
    """Parallax histograms of members and field around the cluster (every row, log counts)."""
    ax = _axes(ax)
    plx = data.arrays["parallax"]
    finite = np.isfinite(plx)
    field = finite & ~data.member
    members = finite & data.member
    lo, hi = _range(plx[field], 0.5, 99.5) if field.any() else _range(plx[members])
    if members.sum() >= 3:  # zoom on the cluster: ±6 spreads, at least ±0.5 mas
        q16, q50, q84 = np.percentile(plx[members], [16, 50, 84])
        half = max(6 * (q84 - q16) / 2, 0.5)
        lo, hi = max(lo, q50 - half), min(hi, q50 + half)
    bins = np.linspace(lo, hi, 81)
    ax.hist(plx[field], bins=bins, histtype="step", color="0.35", lw=1.2,
            label=f"field ({int(field.sum()):,})")
    ax.hist(plx[members], bins=bins, color="tab:green", alpha=0.7,
            label=f"members, P > {data.threshold:g} ({int(members.sum()):,})")
    if data.centroid is not None:
        ax.axvline(data.centroid[2], color="crimson", ls="--", lw=1, label="centroid")
    ax.set_yscale("log")
    ax.set_xlabel(_LABELS["parallax"])
    ax.set_ylabel("stars per bin")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(_title(data, "parallax"))
    return ax.figure


def plot_sky(data: PlotData, ax: Axes | None = None) -> Figure:
    """Sky positions (RA increasing to the left, aspect corrected for cos Dec)."""
    ax = _axes(ax)
    _scatter(data, ax, "ra", "dec")
    dec = data.arrays["dec"][np.concatenate([data.field_rows, data.member_rows])]
    dec0 = float(np.nanmedian(dec)) if np.isfinite(dec).any() else 0.0
    ax.set_aspect(1.0 / max(np.cos(np.radians(dec0)), 0.05), adjustable="datalim")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.set_xlabel(_LABELS["ra"])
    ax.set_ylabel(_LABELS["dec"])
    ax.set_title(_title(data, "sky positions"))
    return ax.figure


def _non_members(data: PlotData) -> tuple[np.ndarray, str]:
    """Non-members for the KDE figure: those that reached the clustering step, else all."""
    complete = np.isfinite(data.probability) & ~data.member
    if data.stage is not None:
        late = complete & ~np.isin(data.stage, _EARLY_STAGES)
        if late.sum() >= 10:
            return late, "non-members after the filter"
    return complete, "non-members"


def plot_kde(data: PlotData, random_state: int = 0) -> Figure:
    """Kernel density of members and non-members in each astrometric parameter.

    As in the MST+GMM study, non-members are the stars that reached the clustering step (those
    rejected by the initial filter are left out) when the table says so.
    """
    names = ("ra", "dec", "pmra", "pmdec", "parallax")
    fig = Figure(figsize=(16, 3.6), layout="constrained")
    axes = fig.subplots(1, len(names))
    rng = np.random.default_rng(random_state)
    non, non_label = _non_members(data)
    for ax, name in zip(axes, names):
        x = data.arrays[name]
        sets = [(data.member & np.isfinite(x), f"members ({int(data.member.sum()):,})", "tab:green"),
                (non & np.isfinite(x), f"{non_label} ({int(non.sum()):,})", "0.35")]
        ref = sets[0][0] if sets[0][0].sum() >= 3 else sets[1][0]
        lo, hi = _range(x[ref], 0.5, 99.5)
        span = hi - lo
        lo, hi = lo - 0.5 * span, hi + 0.5 * span
        if sets[1][0].any():
            f_lo, f_hi = _range(x[sets[1][0]], 0.5, 99.5)
            lo, hi = max(lo, f_lo), min(hi, f_hi)
        grid = np.linspace(lo, hi, 256)
        for mask, label, colour in sets:
            v = x[mask]
            if v.size > KDE_SAMPLE:
                v = rng.choice(v, KDE_SAMPLE, replace=False)
            if v.size < 3 or np.ptp(v) == 0:
                continue
            density = gaussian_kde(v)(grid)
            ax.plot(grid, density, color=colour, lw=1.5, label=label)
            ax.fill_between(grid, density, color=colour, alpha=0.25)
        ax.set_xlim(lo, hi)
        ax.set_xlabel(_LABELS[name])
        ax.set_yticks([])
    axes[0].set_ylabel("density")
    axes[0].legend(fontsize="small", loc="upper left")
    fig.suptitle(_title(data, "members against non-members (kernel density estimates)"))
    return fig


def plot_mst(data: PlotData, ax: Axes | None = None) -> Figure:
    """MST edge weights sorted from heaviest, with the cut (MST+GMM only)."""
    ax = _axes(ax)
    w = data.mst_edge_weights
    if w is None or w.size == 0:
        ax.text(0.5, 0.5, "no MST edge weights in this run", ha="center", va="center",
                transform=ax.transAxes)
        return ax.figure
    w = np.sort(w[np.isfinite(w)])[::-1]
    rank = np.arange(1, w.size + 1)
    if w.size > 4000:
        pick = np.unique(np.geomspace(1, w.size, 4000).astype(int) - 1)
        rank, w_shown = rank[pick], w[pick]
    else:
        w_shown = w
    ax.plot(rank, w_shown, color="tab:blue", lw=1.5, label=f"MST edges ({w.size:,})")
    if data.mst_threshold is not None:
        n_cut = int((w > data.mst_threshold).sum())
        ax.axhline(data.mst_threshold, color="crimson", ls="--",
                   label=f"threshold {data.mst_threshold:.3g} ({n_cut:,} edges above)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("edge rank (heaviest first)")
    ax.set_ylabel("edge weight (standardised ra, dec, parallax)")
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(_title(data, "minimum spanning tree"))
    return ax.figure


def plot_dec_groups(data: PlotData, ax: Axes | None = None) -> Figure:
    """DEC's groups in the proper-motion plane; the cluster's group is outlined."""
    ax = _axes(ax)
    g = data.dec_group
    if g is None:
        ax.text(0.5, 0.5, "no DEC groups in this run", ha="center", va="center", transform=ax.transAxes)
        return ax.figure
    a = data.arrays
    rows = np.concatenate([data.field_rows, data.member_rows])
    groups = [k for k in np.unique(g) if k >= 0]
    counts = {k: int((g == k).sum()) for k in groups}
    in_members = {k: int(((g == k) & data.member).sum()) for k in groups}
    cluster = max(groups, key=lambda k: in_members[k]) if groups and data.member.any() else None
    colours = [f"C{i % 10}" for i in range(len(groups))]
    for k, colour in zip(groups, colours):
        sel = rows[g[rows] == k]
        label = f"group {k} ({counts[k]:,})" + (" = cluster" if k == cluster else "")
        ax.scatter(a["pmra"][sel], a["pmdec"][sel], s=3 if k != cluster else 8, c=colour, lw=0,
                   rasterized=True, label=label, zorder=3 if k == cluster else 2,
                   edgecolors="k" if k == cluster else "none")
    ax.set_xlim(*_range(a["pmra"][rows], 1, 99))
    ax.set_ylim(*_range(a["pmdec"][rows], 1, 99))
    ax.set_xlabel(_LABELS["pmra"])
    ax.set_ylabel(_LABELS["pmdec"])
    ax.legend(loc="upper right", fontsize="x-small", markerscale=3, ncol=2, framealpha=0.8)
    ax.set_title(_title(data, "DEC groups"))
    return ax.figure


def plot_king(fit: KingFit, ax: Axes | None = None, title: str = "") -> Figure:
    """Binned surface density of the members with the fitted King profile."""
    ax = _axes(ax)
    ax.errorbar(fit.radius, fit.density, yerr=fit.density_err, fmt="o", color="k", ms=4,
                capsize=2, label=f"members ({fit.n_stars:.0f})")
    r = np.geomspace(max(fit.radius.min() * 0.5, 1e-3), fit.r_max, 200)
    ax.plot(r, fit.model(r), color="crimson", lw=1.8,
            label=f"King: $r_c$ = {fit.r_c:.2f} ± {fit.r_c_err:.2f}′")
    if fit.sigma_bg > 1e-3 * fit.density.min():
        ax.axhline(fit.sigma_bg, color="0.5", ls=":", label=rf"$\Sigma_{{bg}}$ = {fit.sigma_bg:.3g}")
    ax.axvline(fit.r_c, color="crimson", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("radius (arcmin)")
    ax.set_ylabel("surface density (stars / arcmin²)")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(f"{title}: King profile" if title else "King profile")
    return ax.figure


def plot_validation(data: PlotData, validation: Validation) -> Figure:
    """Our members against the reference members: sky, proper motions and CMD."""
    panels = [("ra", "dec"), ("pmra", "pmdec")]
    if data.has_photometry:
        panels.append(("bp_rp", "phot_g_mean_mag"))
    fig = Figure(figsize=(5.2 * len(panels), 4.8), layout="constrained")
    axes = fig.subplots(1, len(panels))
    ref = validation.reference_mask
    ours = data.member
    classes = [
        (ours & ref, "tab:green", f"both ({int((ours & ref).sum()):,})"),
        (ours & ~ref, "tab:orange", f"vo_ocml only ({int((ours & ~ref).sum()):,})"),
        (~ours & ref, "tab:purple", f"reference only ({int((~ours & ref).sum()):,})"),
    ]
    field = data.field_rows[~ref[data.field_rows]]
    for ax, (x, y) in zip(axes, panels):
        a = data.arrays
        ax.scatter(a[x][field], a[y][field], s=2, c=FIELD_COLOUR, alpha=0.5, lw=0, rasterized=True,
                   label=data.field_label())
        for mask, colour, label in classes:
            ax.scatter(a[x][mask], a[y][mask], s=7, c=colour, lw=0, rasterized=True, label=label)
        ax.set_xlabel(_LABELS.get(x, "BP−RP (mag)"))
        ax.set_ylabel(_LABELS.get(y, "G (mag)"))
    axes[0].invert_xaxis()
    xlim, ylim = _pm_window(data)
    axes[1].set_xlim(*xlim)
    axes[1].set_ylim(*ylim)
    if len(panels) == 3:
        axes[2].invert_yaxis()
    axes[0].legend(loc="upper right", fontsize="small", markerscale=2, framealpha=0.8)
    fig.suptitle(_title(data, f"against the reference: completeness {100 * validation.completeness:.1f} %, "
                              f"contamination {100 * validation.contamination:.1f} %, "
                              f"F1 {validation.f1:.3f}"))
    return fig


def save_plots(data: PlotData, directory: str | Path, *, king: KingFit | None = None,
               validation: Validation | None = None) -> dict[str, Path]:
    """Write every plot that applies to ``directory`` as PNG.

    Parameters
    ----------
    data : PlotData
        The prepared table.
    directory : str or Path
        Created if needed.
    king : KingFit, optional
        Adds ``king.png``.
    validation : Validation, optional
        Adds ``validation.png``.

    Returns
    -------
    dict of str to Path
        Plot name (``cmd``, ``pm``, ``parallax``, ``sky``, ``kde``, ``mst``, ``dec_groups``,
        ``king``, ``validation``) → file written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Figure] = {"sky": plot_sky(data), "pm": plot_pm(data)}
    if data.has_photometry:
        figures["cmd"] = plot_cmd(data)
    figures["parallax"] = plot_parallax(data)
    figures["kde"] = plot_kde(data)
    if data.mst_edge_weights is not None:
        figures["mst"] = plot_mst(data)
    if data.dec_group is not None:
        figures["dec_groups"] = plot_dec_groups(data)
    if king is not None:
        figures["king"] = plot_king(king, title=data.title)
    if validation is not None:
        figures["validation"] = plot_validation(data, validation)
    paths = {}
    for name, fig in figures.items():
        paths[name] = directory / f"{name}.png"
        fig.savefig(paths[name], dpi=DPI)
    return paths
