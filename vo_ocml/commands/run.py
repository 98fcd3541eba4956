"""``vo-ocml run``: annotate a table (or the embedded NGC 2477 cone) with memberships."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

#: the real Gaia cone shipped with the package, used when no INPUT is given
DEFAULT_INPUT = "ngc2477_cone.vot"
EXIT_NO_CLUSTER = 0  # documented: no cluster found is a warning, not a failure


def default_input() -> Path:
    """Path of the embedded default table (a real Gaia cone around NGC 2477)."""
    return Path(str(resources.files("vo_ocml") / "data" / DEFAULT_INPUT))


def _column_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected QUANTITY=COLUMN, got {text!r}")
    quantity, column = text.split("=", 1)
    return quantity.strip(), column.strip()


def _components(text: str) -> int | str:
    if text == "bic":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 2 or 'bic', got {text!r}") from None
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``run``."""
    p = subparsers.add_parser(
        "run", help="annotate a Gaia table with membership probabilities",
        description="Find an open cluster's members in a table of stars (Gaia archive or VizieR "
        "column names, or UCDs) and write the table back with ocml_prob, ocml_member and "
        "ocml_stage columns and provenance PARAMs. Without INPUT, runs on the embedded real Gaia "
        "cone around NGC 2477. Without --cluster or a centroid, the cluster is found in the "
        "data. When no cluster is found, every row is written with probability 0, a warning is "
        "printed and the exit status is 0 (PARAM ocml_found = false).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", nargs="?", help="input table: VOTable, FITS, CSV or ECSV "
                   "(default: the embedded NGC 2477 cone)")
    p.add_argument("-o", "--output", help="output table; format from its suffix (.vot/.xml "
                   "VOTable BINARY2, .fits, .csv, .ecsv) (default: <input name>_ocml.vot in "
                   "the current directory)")
    p.add_argument("--format", choices=["votable", "fits", "csv", "ecsv"],
                   help="input format (default: from the suffix, else from the content)")
    p.add_argument("--output-format", choices=["votable", "fits", "csv", "ecsv"],
                   help="output format (default: from the output's suffix)")
    p.add_argument("--tabledata", action="store_true",
                   help="write VOTable as TABLEDATA instead of BINARY2")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--method", choices=["mstgmm", "dec"], default="mstgmm",
                   help="membership method: filter → MST → GMM, or Deep Embedded Clustering")
    p.add_argument("--cluster", metavar="NAME", help="cluster name looked up in the shipped "
                   "catalogue (Hunt & Reffert 2023, Cantat-Gaudin 2020, Dias 2002, UCC), "
                   "e.g. 'NGC 2682', 'M67', 'Pleiades'")
    p.add_argument("--pmra", type=float, help="centroid pmra in mas/yr (with --pmdec, --parallax)")
    p.add_argument("--pmdec", type=float, help="centroid pmdec in mas/yr")
    p.add_argument("--parallax", type=float, help="centroid parallax in mas")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="membership probability threshold for ocml_member")
    p.add_argument("--col", action="append", type=_column_override, default=[],
                   metavar="QUANTITY=COLUMN", help="use COLUMN for QUANTITY (ra, dec, pmra, "
                   "pmdec, parallax, pmra_error, pmdec_error, parallax_error, phot_g_mean_mag, "
                   "bp_rp, source_id); repeatable")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    g = p.add_argument_group("filter → MST → GMM options")
    g.add_argument("--filter", choices=["adaptive", "fixed"], default="adaptive",
                   help="initial filter: adaptive to the cluster's spread and the stars' errors, "
                   "or the paper's fixed box")
    g.add_argument("--filter-nsigma", type=float, default=3.0,
                   help="adaptive filter half-width in standard deviations")
    g.add_argument("--fixed-widths", type=float, nargs=3, default=(0.5, 0.5, 0.2),
                   metavar=("DPMRA", "DPMDEC", "DPLX"),
                   help="fixed filter half-widths: mas/yr, mas/yr, mas")
    g.add_argument("--no-refine", action="store_true",
                   help="use the given/catalogued centroid as is (no re-measurement)")
    g.add_argument("--mst-rule", choices=["paper", "code"], default="paper",
                   help="MST rule: the paper's edge cut or the authors' code's node-sum cut")
    g.add_argument("--mst-k", type=float, default=None,
                   help="MST threshold = mean + k·std (default 3 for 'paper', 1 for 'code')")
    g.add_argument("--mixture", choices=["radial", "gmm"], default="radial",
                   help="the mixture step: cluster + field Gaussians in pm/parallax, deconvolved "
                   "with the stars' errors, with a member fraction falling with radius; or the "
                   "paper's 5-D Gaussian mixture over (ra, dec, pmra, pmdec, parallax)")
    g.add_argument("--components", type=_components, default=2,
                   help="mixture components (≥ 2: one is the cluster) or 'bic' to choose 2–4 "
                   "by BIC (e.g. a second cluster in the field)")
    d = p.add_argument_group("DEC options")
    d.add_argument("--dec-k", type=int, default=None,
                   help="number of DEC groups (default: chosen by silhouette score)")
    d.add_argument("--dec-seeds", type=int, default=None,
                   help="seeds in DEC's ensemble (default: the method's own)")
    d.add_argument("--dec-features", choices=["ratios", "raw"], default=None,
                   help="DEC features: pm/parallax ratios as in the thesis, or raw pm and parallax "
                   "(better for distant clusters)")
    d.add_argument("--dec-quantile-filter", action="store_true",
                   help="apply the thesis's 0.10–0.90 quantile filter to DEC's members")
    r = p.add_argument_group("results, validation and data")
    r.add_argument("--report", metavar="DIR", help="write an HTML report (plots, summary, King "
                   "profile, validation, provenance) into DIR; opens offline in a browser")
    r.add_argument("--validate", metavar="REF", help="compare with a reference membership: a "
                   "boolean/probability column of the input, a file of members with source_id, "
                   "or 'hunt' for the Hunt & Reffert 2023 members of --cluster (fetched over "
                   "TAP from VizieR, cached)")
    r.add_argument("--fetch", action="store_true", help="fetch the Gaia DR3 cone around "
                   "--cluster over TAP (Gaia archive; cached) instead of reading INPUT")
    r.add_argument("--radius", type=float, help="with --fetch: cone radius in degrees "
                   "(default: 3 × the catalogue's r50, within 0.1–1.5°)")
    r.add_argument("--gmax", type=float, default=20.0, help="with --fetch: faintest G (mag)")
    r.add_argument("--offline", action="store_true",
                   help="with --fetch / --validate hunt: use the cache only, no network")
    r.add_argument("--refresh", action="store_true",
                   help="with --fetch / --validate hunt: ignore the cache and query again")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    p.set_defaults(func=main)
    return p


def method_params(args: argparse.Namespace) -> dict:
    """Estimator parameters from the command-line options."""
    if args.method == "mstgmm":
        params = {"filter": args.filter, "filter_nsigma": args.filter_nsigma,
                  "fixed_widths": tuple(args.fixed_widths), "refine": not args.no_refine,
                  "mst_rule": args.mst_rule, "n_components": args.components,
                  "mixture": args.mixture}
        if args.mst_k is not None:
            params["mst_k"] = args.mst_k
        return params
    params = {"verbose": not args.quiet, "quantile_filter": args.dec_quantile_filter}
    for option, name in (("dec_k", "n_clusters"), ("dec_seeds", "n_seeds"),
                         ("dec_features", "features")):
        if getattr(args, option) is not None:
            params[name] = getattr(args, option)
    return params


def centroid_option(args: argparse.Namespace):
    """The (pmra, pmdec, parallax) given on the command line, or None."""
    given = [args.pmra, args.pmdec, args.parallax]
    if all(v is None for v in given):
        return None
    if any(v is None for v in given):
        from vo_ocml.errors import InputError
        raise InputError("Give all three of --pmra, --pmdec and --parallax (mas/yr, mas/yr, "
                         "mas), or none of them.")
    return tuple(given)


def _load(args: argparse.Namespace):
    """The input table and a short name for it: a file, a TAP cone, or the embedded default."""
    from vo_ocml.errors import InputError
    from vo_ocml.io.tables import read_table

    if args.fetch:
        if args.input or not args.cluster:
            raise InputError("--fetch downloads the cone around --cluster NAME; give the "
                             "cluster's name and no INPUT file.")
        from vo_ocml.tap import fetch_cone
        from vo_ocml.tap.cli import ProgressLine
        progress = None if args.quiet else ProgressLine(sys.stderr)
        try:
            table = fetch_cone(name=args.cluster, radius=args.radius, gmax=args.gmax,
                               offline=args.offline, refresh=args.refresh, progress=progress)
        finally:
            if progress is not None:
                progress.close()
        return table, args.cluster.replace(" ", "_") + "_gaiadr3"
    source = Path(args.input) if args.input else default_input()
    return read_table(source, format=args.format), source.stem


def _reference(args: argparse.Namespace, table):
    """The --validate reference: 'hunt' (fetched), a column name or a file path."""
    if args.validate != "hunt":
        return args.validate
    from vo_ocml.errors import InputError
    if not args.cluster:
        raise InputError("--validate hunt needs --cluster NAME (the Hunt & Reffert 2023 "
                         "members of that cluster are fetched).")
    from vo_ocml.tap import fetch_hunt_members
    return fetch_hunt_members(args.cluster, offline=args.offline, refresh=args.refresh)


def main(args: argparse.Namespace) -> int:
    """Run the ``run`` command; returns the exit status."""
    from vo_ocml.errors import InputError
    from vo_ocml.io.tables import write_table
    from vo_ocml.pipeline import run

    stem = Path(args.input).stem if args.input else (
        args.cluster.replace(" ", "_") + "_gaiadr3" if args.fetch and args.cluster
        else Path(DEFAULT_INPUT).stem)
    output = Path(args.output) if args.output else Path(f"{stem}_ocml.vot")
    if output.exists() and not args.overwrite:
        raise InputError(f"{output} exists already; vo_ocml does not overwrite files unless "
                         "asked (--overwrite), or choose another name with -o.")
    if args.input and output.resolve() == Path(args.input).resolve():
        raise InputError(f"The output {output} is the input file; the input is never modified. "
                         "Choose another name with -o.")
    table, name = _load(args)
    annotated = run(table, method=args.method, cluster=args.cluster,
                    centroid=centroid_option(args), threshold=args.threshold,
                    columns=dict(args.col), random_state=args.seed, **method_params(args))
    validation = None
    if args.validate:
        from vo_ocml.analysis.validate import validate
        reference = _reference(args, table)
        validation = validate(annotated, reference)
        annotated.table.meta["ocml_params"] += validation.as_params()
    write_table(annotated.table, output, format=args.output_format, overwrite=args.overwrite,
                tabledata=args.tabledata)
    report = None
    if args.report:
        from vo_ocml.analysis.report import write_report
        report = write_report(annotated, args.report,
                              reference=reference if args.validate else None, title=name)
    if not annotated.result.found:
        reason = annotated.result.details.get("no_cluster_reason", "")
        candidates = annotated.result.details.get("detection_candidates")
        best = f" Best candidates: {candidates}." if candidates else ""
        print(f"vo-ocml: warning: no cluster found in {name} ({reason}); every row was "
              f"written with probability 0 to {output}.{best}", file=sys.stderr)
    if not args.quiet:
        print(f"{name}: {len(table)} rows → {output}")
        print(annotated.summary.format())
        if validation is not None:
            print(validation.format())
        if report is not None:
            print(f"report: {report}")
    return EXIT_NO_CLUSTER if not annotated.result.found else 0
