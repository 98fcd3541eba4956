"""``vo-ocml run``: annotate a table (or the embedded NGC 2477 cone) with memberships."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import resources
from pathlib import Path

from vo_ocml.io.formats import FORMATS
from vo_ocml.options import (FORMAT_OPTION, HelpFormatter, Option, RunOptions, add_options, add_run_options,
                             add_verbosity, run_options_from_args)
from vo_ocml.options.parse import boolean, choice, number, text

log = logging.getLogger(__name__)

#: the real Gaia cone shipped with the package, used when no INPUT is given
DEFAULT_INPUT = "ngc2477_cone.vot"
EXIT_NO_CLUSTER = 0  # documented: no cluster found is a warning, not a failure


def default_input() -> Path:
    """Path of the embedded default table (a real Gaia cone around NGC 2477)."""
    return Path(str(resources.files("vo_ocml") / "data" / DEFAULT_INPUT))


#: options of the ``run`` command itself (output, report, validation, fetching)
OUTPUT_OPTIONS = (
    Option("output_format", "output format", choice(tuple(FORMATS)),
           default_text="from the output's suffix"),
    Option("tabledata", "write VOTable as TABLEDATA instead of BINARY2", boolean, default=False),
    Option("overwrite", "replace an existing output file", boolean, default=False),
)
RESULT_OPTIONS = (
    Option("report", "write an HTML report (plots, summary, King profile, validation, "
           "provenance) into DIR; opens offline in a browser", text, metavar="DIR",
           default_text="no report"),
    Option("validate", "compare with a reference membership: a boolean/probability column of "
           "the input, a file of members with source_id, or 'hunt' for the Hunt & Reffert 2023 "
           "members of --cluster (fetched over TAP from VizieR, cached)", text, metavar="REF",
           default_text="no validation"),
    Option("fetch", "fetch the Gaia DR3 cone around --cluster over TAP (Gaia archive; cached) "
           "instead of reading INPUT", boolean, default=False),
    Option("radius", "with --fetch: cone radius", number(0, 90, low_open=True), unit="deg",
           default_text="3 × the catalogue's r50, within 0.1–1.5°"),
    Option("gmax", "with --fetch: faintest G", number(), unit="mag", default=20.0),
    Option("offline", "with --fetch / --validate hunt: use the cache only, no network", boolean,
           default=False),
    Option("refresh", "with --fetch / --validate hunt: ignore the cache and query again",
           boolean, default=False),
)


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
        formatter_class=HelpFormatter)
    action = p.add_argument("input", nargs="?", help="input table: VOTable, FITS, CSV or ECSV")
    action.default_text = "the embedded NGC 2477 cone"
    action = p.add_argument("-o", "--output", metavar="PATH", help="output table; format from "
                            "its suffix (.vot/.xml VOTable BINARY2, .fits, .csv, .ecsv)")
    action.default_text = "<input name>_ocml.vot in the current directory"
    add_options(p, OUTPUT_OPTIONS)
    add_run_options(p)
    add_options(p, RESULT_OPTIONS, "results, validation and data")
    add_verbosity(p)
    p.set_defaults(func=main)
    return p


def _settings(args: argparse.Namespace) -> dict:
    """The command's own options (defaults applied, values checked)."""
    values = {o.name: o.default for o in (*OUTPUT_OPTIONS, *RESULT_OPTIONS)}
    for option in (*OUTPUT_OPTIONS, *RESULT_OPTIONS):
        value = getattr(args, option.name)
        if value is not None:
            values[option.name] = option.parse(option.name, value)
    return values


def run_options(args: argparse.Namespace) -> RunOptions:
    """The run options of the command line; DEC shows its progress bar unless -q."""
    options = run_options_from_args(args)
    if options.method == "dec" and "verbose" not in options.params:
        options = options.updated({"verbose": not args.quiet})
    return options


def _load(args: argparse.Namespace, options: RunOptions, settings: dict):
    """The input table and a short name for it: a file, a TAP cone, or the embedded default."""
    from vo_ocml.errors import InputError
    from vo_ocml.io.tables import read_table

    if settings["fetch"]:
        if args.input or not options.cluster:
            raise InputError("--fetch downloads the cone around --cluster NAME; give the "
                             "cluster's name and no INPUT file.")
        from vo_ocml.tap import fetch_cone
        from vo_ocml.commands.progress import ProgressLine
        progress = None if args.quiet else ProgressLine(sys.stderr)
        try:
            table = fetch_cone(name=options.cluster, radius=settings["radius"],
                               gmax=settings["gmax"], offline=settings["offline"],
                               refresh=settings["refresh"], progress=progress)
        finally:
            if progress is not None:
                progress.close()
        return table, options.cluster.replace(" ", "_") + "_gaiadr3"
    source = Path(args.input) if args.input else default_input()
    fmt = None if args.format is None else FORMAT_OPTION.parse(FORMAT_OPTION.name, args.format)
    return read_table(source, format=fmt), source.stem


def _reference(options: RunOptions, settings: dict):
    """The --validate reference: 'hunt' (fetched), a column name or a file path."""
    if settings["validate"] != "hunt":
        return settings["validate"]
    from vo_ocml.errors import InputError
    if not options.cluster:
        raise InputError("--validate hunt needs --cluster NAME (the Hunt & Reffert 2023 "
                         "members of that cluster are fetched).")
    from vo_ocml.tap import fetch_hunt_members
    return fetch_hunt_members(options.cluster, offline=settings["offline"],
                              refresh=settings["refresh"])


def main(args: argparse.Namespace) -> int:
    """Run the ``run`` command; returns the exit status."""
    from vo_ocml.errors import InputError
    from vo_ocml.io.tables import write_table
    from vo_ocml.pipeline import run

    options, settings = run_options(args), _settings(args)
    stem = Path(args.input).stem if args.input else (
        options.cluster.replace(" ", "_") + "_gaiadr3" if settings["fetch"] and options.cluster
        else Path(DEFAULT_INPUT).stem)
    output = Path(args.output) if args.output else Path(f"{stem}_ocml.vot")
    if output.exists() and not settings["overwrite"]:
        raise InputError(f"{output} exists already; vo_ocml does not overwrite files unless "
                         "asked (--overwrite), or choose another name with -o.")
    if args.input and output.resolve() == Path(args.input).resolve():
        raise InputError(f"The output {output} is the input file; the input is never modified. "
                         "Choose another name with -o.")
    table, name = _load(args, options, settings)
    annotated = run(table, **options.run_kwargs())
    validation = reference = None
    if settings["validate"]:
        from vo_ocml.analysis.validate import validate
        reference = _reference(options, settings)
        validation = validate(annotated, reference)
        annotated.table.meta["ocml_params"] += validation.as_params()
    write_table(annotated.table, output, format=settings["output_format"],
                overwrite=settings["overwrite"], tabledata=settings["tabledata"])
    report = None
    if settings["report"]:
        from vo_ocml.analysis.report import write_report
        report = write_report(annotated, settings["report"], reference=reference, title=name)
    if not annotated.result.found:
        reason = annotated.result.details.get("no_cluster_reason", "")
        candidates = annotated.result.details.get("detection_candidates")
        best = f" Best candidates: {candidates}." if candidates else ""
        print(f"vo-ocml: warning: no cluster found in {name} ({reason}); every row was "
              f"written with probability 0 to {output}.{best}", file=sys.stderr)
    if not args.quiet:
        print(f"{name}: {len(table)} rows → {output}")
        print(annotated.summary.format())
        if "detection" in annotated.result.details:
            print(f"{'detection':<18} {annotated.result.details['detection']}")
        if annotated.clusters:
            from vo_ocml.analysis.clusters import format_clusters
            print(format_clusters(annotated.clusters))
        if validation is not None:
            print(validation.format())
        if report is not None:
            print(f"report: {report}")
    return EXIT_NO_CLUSTER if not annotated.result.found else 0
