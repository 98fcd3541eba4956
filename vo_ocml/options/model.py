"""Every run option, defined once: name, type and range (a parser), default, unit, one-line help.

The names are those of :func:`vo_ocml.run`'s keywords, of the SAMP MType
``vo_ocml.membership.run``'s parameters and of the estimators' parameters; the CLI flag is
``--name-with-dashes`` (DEC's parameters: ``--dec-name``) unless an option says otherwise.
Method parameters take their defaults from the estimator's signature (:func:`method_defaults`),
so the defaults live in the estimators; choices that the estimators also check are pinned to
the estimators' own by tests.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vo_ocml.errors import InputError
from vo_ocml.io.formats import FORMATS
from vo_ocml.membership import METHODS, estimator_class
from vo_ocml.membership.result import (MEMBER_THRESHOLD, R50_TOLERANCE,
                                      check_threshold)
from vo_ocml.options.parse import (Parser, boolean, choice, column_map, number, numbers, show,
                                   sky_position, text)

#: a method parameter's default is the estimator's (read from its signature)
FROM_ESTIMATOR = object()


def _threshold(name: str, value: Any) -> float:
    return check_threshold(value)


_threshold.what = "a number in [0, 1)"  # type: ignore[attr-defined]
_threshold.metavar = "P"  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Option:
    """One option of every shell.

    Attributes
    ----------
    name : str
        Python keyword, SAMP parameter and (dashed) CLI flag.
    help : str
        One line, lower case, no unit and no default (they are added where shown).
    parse : Parser
        ``parse(name, value)`` → the value, or :class:`InputError`.
    default : Any
        The real default (:data:`FROM_ESTIMATOR`: the estimator's); None: not set.
    default_text : str or None
        How the default reads when it is not a plain value (e.g. "found in the data").
    unit : str
        Unit(s) of the value ("" when none).
    method : str, tuple of str, or None
        The method whose parameter this is (a tuple: a parameter of each of these methods,
        with the same default); None: an option of every run.
    flag : str or None
        CLI flag when not ``--name-with-dashes``.
    aliases : tuple of str
        Old CLI spellings, accepted and hidden from the help.
    metavar : str or None
        How the value is written in the help.
    nargs : str or None
        CLI: "+" when the values may also follow the flag separated by spaces (None: one).
    repeat : bool
        CLI: the flag may be repeated, each value adding one item.
    cli : bool
        Whether the command line has it (False: set by the shell itself, e.g. DEC's progress
        bar from -q).
    """

    name: str
    help: str
    parse: Parser
    default: Any = None
    default_text: str | None = None
    unit: str = ""
    method: str | tuple[str, ...] | None = None
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    nargs: str | None = None
    repeat: bool = False
    cli: bool = True

    @property
    def cli_flag(self) -> str:
        """The option's CLI flag."""
        if self.flag:
            return self.flag
        prefix = "--dec-" if self.method == "dec" else "--"
        return prefix + self.name.replace("_", "-")

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods that have this parameter (empty for an option of every run)."""
        if self.method is None:
            return ()
        return (self.method,) if isinstance(self.method, str) else self.method

    @property
    def is_flag(self) -> bool:
        """Whether the option is a switch (true/false)."""
        return self.parse is boolean

    def real_default(self) -> Any:
        """The default value (the estimator's for a method parameter)."""
        if self.default is FROM_ESTIMATOR:
            return method_defaults(self.methods[0])[self.name]
        return self.default

    def describe_default(self) -> str:
        """The default as the help prints it."""
        if self.default_text:
            return self.default_text
        value = self.real_default()
        if isinstance(value, bool):
            return "on" if value else "off"
        return show(value)


@functools.cache
def method_defaults(method: str) -> dict[str, Any]:
    """The defaults of ``method``'s estimator parameters, from its signature."""
    signature = inspect.signature(estimator_class(method))
    return {k: p.default for k, p in signature.parameters.items()}


_positive = number(0, low_open=True)
_count = number(1, integer=True)

#: options of every run (CLI run/listen/batch, SAMP, vo_ocml.run)
RUN_OPTIONS = (
    Option("method", "membership method: mstgmm (filter → MST → Gaussian mixture) or dec (Deep "
           "Embedded Clustering)", choice(tuple(METHODS)), default="mstgmm"),
    Option("cluster", "cluster name looked up in the shipped catalogue for its centroid and "
           "position, e.g. 'NGC 2682', 'M67', 'Pleiades'", text, metavar="NAME",
           default_text="none (the cluster is found in the data)"),
    Option("centroid", "the cluster's proper motion and parallax, wins over the catalogue's "
           "(on the command line: --centroid=-11.0,-2.9,1.15 when it starts with a minus)",
           numbers(3, number()), unit="mas/yr, mas/yr, mas", metavar="PMRA,PMDEC,PARALLAX",
           default_text="the catalogue's for --cluster, else found in the data"),
    Option("position", "the cluster's sky position (ICRS), wins over the catalogue's; with a "
           "centroid or a cluster only: a fit that leaves it is refitted held there",
           sky_position, unit="deg, deg", metavar="RA,DEC",
           default_text="the catalogue's for --cluster, else none"),
    Option("r50", "the cluster's half-number radius as a catalogue lists it, wins over the "
           "catalogue's; with a centroid or a cluster only: the fitted profile's half-number "
           f"radius is kept below {R50_TOLERANCE:g} times it (mstgmm)", _positive, unit="deg",
           metavar="DEG",
           default_text="the catalogue's for --cluster, else none"),
    Option("threshold", "membership probability above which a star is a member (ocml_member)",
           _threshold, default=MEMBER_THRESHOLD),
    Option("columns", "use COLUMN for QUANTITY (ra, dec, pmra, pmdec, parallax, pmra_error, "
           "pmdec_error, parallax_error, phot_g_mean_mag, bp_rp, source_id); repeatable",
           column_map, flag="--col", metavar="QUANTITY=COLUMN", repeat=True,
           default_text="found by name or UCD"),
    Option("random_state", "seed of every random step", number(0, integer=True, none="none"),
           default=0, flag="--seed", metavar="N"),
    Option("parallax_zero_point", "Gaia parallax zero-point subtracted from every parallax "
           "before fitting: a value, or 'global' for Lindegren et al. (2021)'s −0.017 mas",
           choice(("global",), also=number(-1.0, 1.0, none="none")), unit="mas",
           metavar="ZP|global", default_text="not applied (the output says so)"),
    Option("error_scale", "factor multiplying every pmra, pmdec and parallax error (the "
           "table's, or the nominal ones from G) before fitting: Gaia EDR3's parallax "
           "uncertainties are up to ~30 % too small brighter than G ≈ 18 and about right "
           "fainter (El-Badry, Rix & Heintz 2021); bench/member_excess.py --windows measures "
           "it on a field", _positive, default=1.0, metavar="K"),
    Option("catalogue_seeds", "model the catalogued clusters the table holds that stand out "
           "where catalogued: a run of one cluster (mstgmm) fits beside it those whose stars "
           "its own fit took (its probability alone is reported), a run of several "
           "(--clusters all|N; mstgmm and dec) adds those the blind detection did not find; "
           "the joint mixture keeps those it confirms", boolean, default=True),
)

#: how the input table is read (CLI run/batch, SAMP vo_ocml.membership.run)
FORMAT_OPTION = Option(
    "format", "input table format", choice(tuple(FORMATS)), flag="--input-format",
    aliases=("--format",), default_text="from the file name's suffix, else from the content")

_mst = "mstgmm"
_dec = "dec"
_both = (_mst, _dec)
#: each method's parameters (defaults: the estimator's)
METHOD_OPTIONS = (
    Option("filter", "initial filter: adaptive to the cluster's spread and the stars' errors, "
           "or the paper's fixed box", choice(("adaptive", "fixed")), FROM_ESTIMATOR, method=_mst),
    Option("filter_nsigma", "adaptive filter half-width", _positive, FROM_ESTIMATOR,
           unit="standard deviations", method=_mst),
    Option("fixed_widths", "fixed filter half-widths in pmra, pmdec, parallax",
           numbers(3, _positive), FROM_ESTIMATOR, unit="mas/yr, mas/yr, mas", method=_mst,
           metavar="DPMRA,DPMDEC,DPLX", nargs="+"),
    Option("refine", "re-measure the cluster's spreads around the centroid (--no-refine: use "
           "the given or catalogued centroid as is)", boolean, FROM_ESTIMATOR, method=_mst),
    Option("mst_rule", "MST rule: the paper's edge cut or the authors' code's node-sum cut",
           choice(("paper", "code")), FROM_ESTIMATOR, method=_mst),
    Option("mst_k", "MST threshold = mean + k × standard deviation of the tree's weights",
           number(0, low_open=True, none="none"), FROM_ESTIMATOR, method=_mst,
           default_text="3 for the paper rule, 1 for code"),
    Option("mst_neighbors", "neighbours of the k-NN graph (paper rule)", _count, FROM_ESTIMATOR,
           method=_mst),
    Option("mst_min_group", "paper rule: pieces with fewer stars after the cut are field",
           _count, FROM_ESTIMATOR, unit="stars", method=_mst),
    Option("mixture", "mixture step: radial (cluster + field in pm and parallax, deconvolved, "
           "member fraction falling with radius) or gmm (the paper's 5-D Gaussian mixture)",
           choice(("radial", "gmm")), FROM_ESTIMATOR, method=_mst),
    Option("n_components", "mixture components (one is the cluster), or bic to choose 2 to "
           "--max-components by BIC (a second cluster in the field); auto: the radial "
           "mixture's field is one or two Gaussians by BIC, the paper's gmm has 2",
           choice(("auto", "bic"), also=number(2, integer=True)), FROM_ESTIMATOR, method=_mst,
           aliases=("--components",)),
    Option("max_components", "most components tried by bic", number(2, integer=True),
           FROM_ESTIMATOR, method=_mst),
    Option("pm_gradient", "radial mixture: let the cluster's mean proper motion vary across "
           "the field (auto: for clusters closer than 500 pc)",
           choice(("auto",), also=boolean), FROM_ESTIMATOR, method=_mst),
    Option("min_significance", "detection significance below which no cluster is declared "
           "(centroid found in the data)", _positive, FROM_ESTIMATOR, unit="σ", method=_mst),
    Option("min_members", "fewest members (P > 0.5) of a cluster declared found", _count,
           FROM_ESTIMATOR, unit="stars", method=_mst),
    Option("max_velocity_dispersion", "internal velocity dispersion above which a candidate "
           "is a feature of the field, not a bound cluster", _positive, FROM_ESTIMATOR,
           unit="km/s", method=_mst),
    Option("clusters", "clusters modelled together with the field: 1 (the named or most "
           "significant one), N, or all (every significant one, up to --max-clusters); each "
           "gets an ocml_prob_<name> column, ocml_cluster names a member's cluster",
           choice(("all",), also=number(1, integer=True)), FROM_ESTIMATOR, method=_both,
           metavar="all|N"),
    Option("max_clusters", "most clusters modelled by --clusters all", _count, FROM_ESTIMATOR,
           method=_both),
    Option("photometric", "radial mixture (and DEC's likelihood ratio): add the cluster's "
           "sequence in the CMD (BP-RP given G) against the field's colours (needs G and BP-RP "
           "columns)", boolean, FROM_ESTIMATOR, method=_both),
    Option("max_fit_stars", "radial mixture: fitted on a sample of at most this many stars, "
           "then every star is scored", number(100, integer=True), FROM_ESTIMATOR,
           unit="stars", method=_mst),
    Option("n_clusters", "number of DEC groups k", number(2, integer=True, none="auto"),
           FROM_ESTIMATOR, method=_dec, aliases=("--dec-k",),
           default_text="auto: chosen by silhouette score in --dec-k-range"),
    Option("features", "DEC features: sky (sky position and error-scaled pm/parallax offsets of "
           "the stars passing the adaptive filter, calibrated probabilities), thesis (the thesis's "
           "pm/parallax ratios of the whole cone, soft-assignment probabilities) or raw (the same "
           "with raw pm and parallax)", choice(("sky", "thesis", "raw")), FROM_ESTIMATOR,
           method=_dec),
    Option("backend", "DEC's training code: numpy (CPU, every seed at once) or tensorflow "
           "(Keras; uses a GPU when TensorFlow sees one; needs vo_ocml[dec])",
           choice(("numpy", "tensorflow")), FROM_ESTIMATOR, method=_dec),
    Option("hidden", "encoder hidden-layer widths", numbers(None, _count), FROM_ESTIMATOR,
           method=_dec, metavar="W1,W2,…"),
    Option("latent_dim", "latent-space width", _count, FROM_ESTIMATOR, method=_dec),
    Option("n_seeds", "DEC runs averaged in the ensemble", number(1, integer=True, none="auto"),
           FROM_ESTIMATOR, method=_dec, aliases=("--dec-seeds",),
           default_text="auto: sky 8; thesis/raw 32 up to 100,000 stars, else 16"),
    Option("quantile_filter", "apply the thesis's quantile filter to DEC's members", boolean,
           FROM_ESTIMATOR, method=_dec),
    Option("quantiles", "the quantile filter's lower and upper quantiles",
           numbers(2, number(0, 1)), FROM_ESTIMATOR, method=_dec, metavar="LOW,HIGH"),
    Option("k_range", "smallest and largest k tried when k is automatic",
           numbers(2, number(2, integer=True)), FROM_ESTIMATOR, method=_dec, metavar="LOW,HIGH"),
    Option("merge_distance", "groups this close to the core group join the cluster (0: none)",
           number(0, none="auto"), FROM_ESTIMATOR, unit="core spreads", method=_dec,
           default_text="auto: sky 0, thesis/raw 2"),
    Option("tol", "stop training when fewer than this fraction of assignments change",
           number(0, 1, low_open=True, high_open=True), FROM_ESTIMATOR, method=_dec),
    Option("max_iter", "most target refreshes while training", _count, FROM_ESTIMATOR,
           method=_dec),
    Option("pretrain_steps", "autoencoder pretraining batches", number(0, integer=True),
           FROM_ESTIMATOR, method=_dec),
    Option("update_interval", "batches between target refreshes", _count, FROM_ESTIMATOR,
           method=_dec),
    Option("batch_size", "rows per training batch", _count, FROM_ESTIMATOR, unit="rows",
           method=_dec),
    Option("learning_rate", "Adam learning rate", _positive, FROM_ESTIMATOR, method=_dec),
    Option("silhouette_rows", "rows on which each silhouette score is computed",
           number(2, integer=True), FROM_ESTIMATOR, unit="rows", method=_dec),
    Option("verbose", "show a progress bar while DEC trains", boolean, FROM_ESTIMATOR,
           method=_dec, cli=False),
)

OPTIONS = {o.name: o for o in (*RUN_OPTIONS, *METHOD_OPTIONS)}
#: run options whose None means "not given"
NULLABLE = ("cluster", "centroid", "position", "r50", "parallax_zero_point")
#: run options that name the cluster: a batch takes them from each target
TARGET_OPTIONS = ("cluster", "centroid", "position", "r50")


def method_options(method: str) -> tuple[Option, ...]:
    """The parameters of ``method`` (its own and those it shares with other methods)."""
    return tuple(o for o in METHOD_OPTIONS if method in o.methods)


@dataclass(frozen=True)
class RunOptions:
    """The options of one run, parsed and checked; ``vo_ocml.run(table, **o.run_kwargs())``.

    Build with :meth:`updated` from any mapping of option names to values (strings from the
    CLI or SAMP, or Python values): every shell goes through it, so they accept and refuse
    the same values with the same messages.

    Attributes
    ----------
    method, cluster, centroid, position, r50, threshold, columns, random_state,
    parallax_zero_point, error_scale, catalogue_seeds
        See :data:`RUN_OPTIONS`.
    params : mapping
        The method parameters given (the estimator's defaults apply to the others).
    """

    method: str = "mstgmm"
    cluster: str | None = None
    centroid: tuple[float, float, float] | None = None
    position: tuple[float, float] | None = None
    r50: float | None = None
    threshold: float = MEMBER_THRESHOLD
    columns: Mapping[str, str] = field(default_factory=dict)
    random_state: int | None = 0
    parallax_zero_point: float | str | None = None
    error_scale: float = 1.0
    catalogue_seeds: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)

    def updated(self, values: Mapping[str, Any]) -> RunOptions:
        """A copy with ``values`` (option name → value) parsed, checked and applied.

        A method parameter given for another method than the run's is refused; when
        ``values`` changes the method, the parameters set before are dropped.

        Raises
        ------
        InputError
            An unknown name, a parameter of the other method, or a bad value.
        """
        unknown = sorted(set(values) - set(OPTIONS))
        if unknown:
            raise InputError(f"unknown parameter(s) {', '.join(unknown)}; accepted: "
                             f"{', '.join(OPTIONS)}")
        changes: dict[str, Any] = {}
        for option in RUN_OPTIONS:
            if option.name in values:
                value = values[option.name]
                changes[option.name] = None if value is None and option.name in NULLABLE \
                    else option.parse(option.name, value)
        method = changes.get("method", self.method)
        params = dict(self.params) if method == self.method else {}
        for name, value in values.items():
            option = OPTIONS[name]
            if option.method is None:
                continue
            if method not in option.methods:
                raise InputError(f"{name} is a parameter of method {' and '.join(option.methods)}, "
                                 f"not {method}")
            params[name] = option.parse(name, value)
        return replace(self, **changes, params=params)

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`vo_ocml.run`."""
        return {"method": self.method, "cluster": self.cluster, "centroid": self.centroid,
                "position": self.position, "r50": self.r50,
                "threshold": self.threshold, "columns": dict(self.columns) or None,
                "random_state": self.random_state,
                "parallax_zero_point": self.parallax_zero_point,
                "error_scale": self.error_scale, "catalogue_seeds": self.catalogue_seeds,
                **self.params}
