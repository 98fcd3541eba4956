"""``vo-ocml chemtag``: the chemical-tagging baseline from the command line.

Sub-commands: ``baseline`` (the eight classifiers, Table 2), ``representations`` (Table 4),
``field`` (field-star curve), ``analyse`` (per-cluster scores and their correlations), ``tune``
(grid search), ``train`` and ``apply`` (save a model, add predicted clusters to a table),
``simulate`` (write the SIMULATED 19-element set). Without ``--input`` every command uses the
embedded real APOGEE DR17 × OCCAM analogue; ``--simulated`` uses the simulator instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from vo_ocml.options.arguments import HelpFormatter, add_verbosity

if TYPE_CHECKING:  # heavy modules are imported when an action runs
    from vo_ocml.chemtag.data import ChemDataset
    from vo_ocml.chemtag.representations import RepresentationOptions


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") \
            from None


def _common(p: argparse.ArgumentParser, *, cv: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument("-i", "--input", help="star table (VOTable, FITS, CSV, ECSV) with a cluster "
                   "label and abundance columns (default: the embedded real APOGEE DR17 × "
                   "OCCAM analogue, 477 stars in 19 clusters)")
    g.add_argument("--simulated", action="store_true", help="use the SIMULATED 19-element set "
                   "(seeded from OCCAM DR16 cluster means) instead of --input")
    g.add_argument("--label", help="cluster-label column (default: CLUSTER)")
    g.add_argument("--abundances", type=_csv, help="comma-separated abundance columns "
                   "(default: every X_FE / X_H column)")
    g.add_argument("--missing", choices=["impute", "drop"], default="impute",
                   help="stars with missing abundances: impute (training-fold median; stars "
                   "missing more than half are dropped) or drop")
    g.add_argument("--min-members", type=int, default=8, help="smallest cluster kept")
    g.add_argument("--min-feh", type=float, default=-0.6, help="smallest [Fe/H] kept")
    g.add_argument("--max-mean-error", type=float, default=0.6,
                   help="largest mean abundance uncertainty kept (dex)")
    g.add_argument("--min-quality", type=int, help="keep clusters with QUAL >= this "
                   "(OCCAM: 2 = high quality)")
    g.add_argument("--sim-seed", type=int, default=0, help="seed of the simulator")
    if cv:
        c = p.add_argument_group("cross-validation")
        c.add_argument("--folds", type=int, default=3, help="k of the stratified k-fold")
        c.add_argument("--repeats", type=int, default=5, help="repeats of the k-fold")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--jobs", type=int, default=1, help="threads for random forest / XGBoost")
    p.add_argument("--out", type=Path, help="directory for CSV tables and PNG figures")
    add_verbosity(p)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``chemtag`` and its sub-commands on ``subparsers``."""
    from vo_ocml.chemtag.names import CLASSIFIERS, REPRESENTATIONS

    parser = subparsers.add_parser(
        "chemtag", help="chemical tagging: which birth cluster does a star's chemistry point to",
        description="Chemical tagging baseline (A&A 2024): classify stars into their birth "
        "clusters from abundances. Without --input every action uses the embedded real APOGEE "
        "DR17 x OCCAM analogue (6 abundances, 477 stars, 19 clusters); --simulated uses the "
        "SIMULATED 19-element set seeded from OCCAM DR16 cluster means.")
    sub = parser.add_subparsers(dest="chemtag_command", metavar="ACTION", required=True)
    fmt = HelpFormatter

    p = sub.add_parser("baseline", formatter_class=fmt,
                       help="cross-validate the eight classifiers (the study's Table 2)")
    _common(p)
    p.add_argument("--classifiers", type=_csv, default=list(CLASSIFIERS),
                   help="comma-separated: " + ", ".join(CLASSIFIERS))
    p.add_argument("--tune", action="store_true", help="grid-search each classifier on the "
                   "whole dataset first and cross-validate the best (optimistic: the search "
                   "has seen the test folds)")
    p.set_defaults(func=_baseline)

    p = sub.add_parser("representations", formatter_class=fmt,
                       help="compare feature representations (the study's Table 4)")
    _common(p)
    p.add_argument("--representations", type=_csv, default=list(REPRESENTATIONS),
                   help="comma-separated: " + ", ".join(REPRESENTATIONS))
    p.add_argument("--classifier", default="rbf_svm", choices=CLASSIFIERS, help="classifier")
    _repr_options(p)
    p.set_defaults(func=_representations)

    p = sub.add_parser("field", formatter_class=fmt,
                       help="member recall/precision as field stars are added")
    _common(p)
    p.set_defaults(repeats=2)
    p.add_argument("--field", help="field-star table with the same abundance columns "
                   "(default: the embedded real APOGEE DR17 field pool)")
    p.add_argument("--ratios", type=_floats, default=[0, 0.5, 1, 2, 3, 5, 10],
                   help="field stars per member, comma-separated")
    p.add_argument("--classifier", default="rbf_svm", choices=CLASSIFIERS, help="classifier")
    p.add_argument("--track", type=_csv, default=["NGC 6791"],
                   help="clusters whose recall is reported, comma-separated")
    p.set_defaults(func=_field)

    p = sub.add_parser("analyse", aliases=["analyze"], formatter_class=fmt,
                       help="per-cluster recall/precision and their Spearman correlations")
    _common(p)
    p.add_argument("--classifier", default="rbf_svm", choices=CLASSIFIERS, help="classifier")
    p.set_defaults(func=_analyse)

    p = sub.add_parser("tune", formatter_class=fmt, help="grid-search a classifier")
    _common(p, cv=False)
    p.add_argument("--classifier", default="rbf_svm", choices=CLASSIFIERS, help="classifier")
    p.add_argument("--folds", type=int, default=3, help="k of the stratified k-fold")
    p.set_defaults(func=_tune)

    p = sub.add_parser("train", formatter_class=fmt, help="train and save a classifier")
    _common(p, cv=False)
    p.add_argument("--classifier", default="rbf_svm", choices=CLASSIFIERS, help="classifier")
    p.add_argument("--representation", default="all", choices=REPRESENTATIONS,
                   help="abundance representation")
    _repr_options(p)
    p.add_argument("-m", "--model", type=Path, required=True, help="model file to write "
                   "(joblib)")
    p.set_defaults(func=_train)

    p = sub.add_parser("apply", formatter_class=fmt,
                       help="add ocml_chem_cluster / ocml_chem_prob to a table")
    p.add_argument("input", help="table with the model's abundance columns")
    p.add_argument("-m", "--model", type=Path, required=True, help="model from 'train'")
    p.add_argument("-o", "--output", help="output table (default: <input>_chemtag.vot)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_verbosity(p)
    p.set_defaults(func=_apply)

    p = sub.add_parser("simulate", formatter_class=fmt,
                       help="write the SIMULATED 19-element member table")
    p.add_argument("-o", "--output", required=True, help="output table")
    p.add_argument("--n-clusters", type=int, default=27, help="simulated clusters")
    p.add_argument("--n-stars", type=int, default=775, help="simulated stars in all")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulator")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_verbosity(p)
    p.set_defaults(func=_simulate)
    return parser


def _repr_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("representations")
    g.add_argument("--n-noisiest", type=int, default=1, help="elements dropped as noisiest")
    g.add_argument("--n-low-mi", type=int, default=2, help="elements dropped for low MI")
    g.add_argument("--threshold", type=float, default=0.9, help="|rho| grouping threshold")
    g.add_argument("--pca-components", type=int, help="PCA dimension (default min(10, d-1))")
    g.add_argument("--latent-dim", type=int, help="multitask latent size (default min(10, d))")
    g.add_argument("--gamma", type=float, default=1.0, help="multitask cross-entropy weight")
    g.add_argument("--epochs", type=int, default=300, help="multitask training epochs")


def _options(args: argparse.Namespace) -> RepresentationOptions:
    from vo_ocml.chemtag.representations import RepresentationOptions

    return RepresentationOptions(
        n_noisiest=args.n_noisiest, n_low_mi=args.n_low_mi, threshold=args.threshold,
        n_components=args.pca_components, latent_dim=args.latent_dim, gamma=args.gamma,
        epochs=args.epochs)


def _dataset(args: argparse.Namespace) -> ChemDataset:
    from vo_ocml.chemtag.data import Cuts, load_default, prepare
    from vo_ocml.errors import InputError

    if args.simulated:
        if args.input:
            raise InputError("give either --input or --simulated, not both")
        from vo_ocml.chemtag.simulate import simulate_members

        table, source = simulate_members(random_state=args.sim_seed), "SIMULATED 19 elements"
    elif args.input:
        from vo_ocml.io.tables import read_table

        table, source = read_table(args.input), args.input
    else:
        table, source = load_default(), "embedded real APOGEE DR17 x OCCAM analogue"
    cuts = Cuts(min_feh=args.min_feh, max_mean_error=args.max_mean_error,
                min_members=args.min_members, min_quality=args.min_quality)
    ds = prepare(table, label=args.label, abundances=args.abundances, cuts=cuts,
                 missing=args.missing)
    print(f"data: {source}: {len(ds.y)} stars, {len(ds.classes)} clusters, "
          f"{len(ds.features)} abundances ({', '.join(ds.features)})")
    print(ds.report.format())
    print()
    return ds


def _outdir(args: argparse.Namespace) -> Path | None:
    if args.out is None:
        return None
    args.out.mkdir(parents=True, exist_ok=True)
    return args.out


def _baseline(args: argparse.Namespace) -> int:
    from astropy.table import Table

    from vo_ocml.chemtag.baseline import compare_classifiers, format_classifier_table
    from vo_ocml.chemtag.evaluate import METRICS
    from vo_ocml.chemtag.plots import plot_confusion

    ds = _dataset(args)
    params = {}
    if args.tune:
        from vo_ocml.chemtag.classifiers import PARAM_GRIDS, tune

        for name in args.classifiers:
            if name in PARAM_GRIDS:
                params[name] = tune(name, ds.X, ds.y, n_splits=args.folds,
                                    random_state=args.seed, n_jobs=args.jobs)["params"]
                print(f"tuned {name}: {params[name]}")
    results = compare_classifiers(ds, args.classifiers, n_splits=args.folds,
                                  n_repeats=args.repeats, random_state=args.seed,
                                  n_jobs=args.jobs, params=params)
    print(format_classifier_table(
        results, f"classifiers, {args.repeats}x repeated stratified {args.folds}-fold "
                 "(per cent, mean ± std over folds)"))
    out = _outdir(args)
    if out:
        rows = [{"classifier": n, **{f"{m}_{s}": getattr(cv, s)(m) for m in METRICS
                                     for s in ("mean", "std")}} for n, cv in results.items()]
        Table(rows=rows).write(out / "classifiers.csv", overwrite=True)
        for name, cv in results.items():
            cv.per_cluster().write(out / f"per_cluster_{name}.csv", overwrite=True)
            cv.confusion_table().write(out / f"confusion_{name}.csv", overwrite=True)
            plot_confusion(cv, out / f"confusion_{name}.png", f"{name}: mean confusion")
        print(f"\nwrote tables and confusion heat maps to {out}")
    return 0


def _representations(args: argparse.Namespace) -> int:
    from astropy.table import Table

    from vo_ocml.chemtag.baseline import format_representation_table
    from vo_ocml.chemtag.plots import plot_dendrogram
    from vo_ocml.chemtag.representations import compare_representations

    ds = _dataset(args)
    options = _options(args)
    results = compare_representations(
        ds, tuple(args.representations), classifier=args.classifier, options=options,
        n_splits=args.folds, n_repeats=args.repeats, random_state=args.seed, n_jobs=args.jobs)
    print(format_representation_table(results, args.classifier, "representations"))
    out = _outdir(args)
    if out:
        Table(rows=[{"representation": r.name, "features": r.features, "dims": r.n_dims,
                     "accuracy": r.cv.mean("accuracy"), "accuracy_std": r.cv.std("accuracy"),
                     "f1": r.cv.mean("f1"), "f1_std": r.cv.std("f1")} for r in results]
              ).write(out / "representations.csv", overwrite=True)
        plot_dendrogram(ds.X, ds.features, options.threshold, out / "dendrogram.png")
        print(f"\nwrote representations.csv and dendrogram.png to {out}")
    return 0


def _field(args: argparse.Namespace) -> int:
    from vo_ocml.chemtag.baseline import format_table
    from vo_ocml.chemtag.field import field_experiment, field_matrix, load_field_pool
    from vo_ocml.chemtag.plots import plot_field_curve

    ds = _dataset(args)
    if args.field:
        from vo_ocml.io.tables import read_table

        pool = read_table(args.field)
    else:
        pool = load_field_pool()
    field = field_matrix(pool, ds.features)
    print(f"field pool: {len(field)} stars with every abundance and -0.6 <= [Fe/H] <= 0.3")
    table = field_experiment(ds, field, args.ratios, classifier=args.classifier,
                             track=args.track, n_splits=args.folds, n_repeats=args.repeats,
                             random_state=args.seed, n_jobs=args.jobs)
    pct = [c for c in table.colnames if c.startswith(("recall", "precision"))]
    print(format_table(table, percent=pct))
    out = _outdir(args)
    if out:
        table.write(out / "field.csv", overwrite=True)
        plot_field_curve(table, out / "field.png")
        print(f"\nwrote field.csv and field.png to {out}")
    return 0


def _analyse(args: argparse.Namespace) -> int:
    from vo_ocml.chemtag.analysis import cluster_correlations
    from vo_ocml.chemtag.baseline import format_table
    from vo_ocml.chemtag.classifiers import make_pipeline
    from vo_ocml.chemtag.evaluate import cross_validate
    from vo_ocml.chemtag.plots import plot_confusion

    ds = _dataset(args)
    cv = cross_validate(make_pipeline(args.classifier, random_state=args.seed, n_jobs=args.jobs),
                        ds.X, ds.y, n_splits=args.folds, n_repeats=args.repeats,
                        random_state=args.seed)
    print(f"{args.classifier}: accuracy {cv.formatted('accuracy')} %\n")
    per = cv.per_cluster()
    print(format_table(per, percent=["recall", "recall_std", "precision", "precision_std"]))
    corr = cluster_correlations(cv, ds)
    print("\nSpearman correlation of per-cluster scores with cluster properties")
    print(format_table(corr))
    out = _outdir(args)
    if out:
        per.write(out / "per_cluster.csv", overwrite=True)
        corr.write(out / "correlations.csv", overwrite=True)
        cv.confusion_table().write(out / "confusion.csv", overwrite=True)
        plot_confusion(cv, out / "confusion.png", f"{args.classifier}: mean confusion")
        print(f"\nwrote per_cluster.csv, correlations.csv, confusion.csv/.png to {out}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from vo_ocml.chemtag.classifiers import tune

    ds = _dataset(args)
    best = tune(args.classifier, ds.X, ds.y, n_splits=args.folds, random_state=args.seed,
                n_jobs=args.jobs)
    print(f"{args.classifier}: best {best['params']} (accuracy {100 * best['score']:.1f} %)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from vo_ocml.chemtag.apply import train

    ds = _dataset(args)
    model = train(ds, classifier=args.classifier, representation=args.representation,
                  options=_options(args), random_state=args.seed, n_jobs=args.jobs)
    model.save(args.model)
    print(f"trained {args.classifier} on {args.representation} ({model.n_train} stars, "
          f"{len(model.classes)} clusters); wrote {args.model}")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from vo_ocml.chemtag.apply import CLUSTER_COLUMN, ChemTagModel
    from vo_ocml.io.tables import read_table, write_table

    model = ChemTagModel.load(args.model)
    out = model.apply(read_table(args.input))
    output = args.output or f"{Path(args.input).stem}_chemtag.vot"
    write_table(out, output, overwrite=args.overwrite)
    n = int((~out[CLUSTER_COLUMN].mask).sum())
    print(f"predicted clusters for {n} of {len(out)} rows; wrote {output}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from vo_ocml.chemtag.simulate import simulate_members
    from vo_ocml.io.tables import write_table

    table = simulate_members(n_clusters=args.n_clusters, n_stars=args.n_stars,
                             random_state=args.seed)
    write_table(table, args.output, overwrite=args.overwrite)
    print(f"wrote {len(table)} SIMULATED stars in {len(set(table['CLUSTER']))} clusters "
          f"to {args.output}")
    return 0
