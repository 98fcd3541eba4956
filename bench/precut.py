"""Blind runs on real cones pre-cut in parallax or G, against the whole cone's named run.

A user's table is often cut before it reaches vo_ocml (``parallax >= 1``, ``phot_g_mean_mag <
19`` in an archive query or a TOPCAT subset). The members a run finds in such a table should be
the members the whole cone's run finds among the same rows. For each catalogued cluster's cone
in ``../shared/data/gaia``, the whole cone is run named; each cut (parallax ≥ 1 mas, parallax ≥
half the members' median, G < 17, 18, 19; rows without the cut's value are left out) is run
blind. Printed per cut: rows, the whole run's members among them, the cut run's members, both,
and the F1 of the cut run's members against the whole run's (1: the cut changed nothing).

Usage::

    python bench/precut.py [--shared ../shared/data] [--only ngc2477_cone ...] [--set NAME=VALUE]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table

from vo_ocml.errors import VoOcmlError
from vo_ocml.io.columns import resolve_columns
from vo_ocml.pipeline import run

#: the cones and their clusters' names in the shipped catalogue
CONES = {"ngc6405_cone": "NGC 6405", "ngc2112_cone": "NGC 2112", "ngc225_cone": "NGC 225",
         "ngc7789_cone": "NGC 7789", "ngc2477_cone": "NGC 2477", "m67_dr3_pmbox": "NGC 2682",
         "pleiades_dr3_pmbox": "Melotte 22"}
#: the magnitude cuts (G <), and the parallax cut of a DR2-era nearby-cluster query (mas)
G_CUTS, PARALLAX_CUT = (17.0, 18.0, 19.0), 1.0
#: cuts leaving fewer rows, or fewer of the whole run's members, are not run
MIN_ROWS, MIN_MEMBERS = 200, 20


def _option(text: str) -> tuple[str, str]:
    """NAME=VALUE of --set (the value is parsed by vo_ocml's options model)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set takes NAME=VALUE, not {text!r}")
    return name.replace("-", "_"), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--only", nargs="*", default=None, help="cone file stems to run")
    parser.add_argument("--set", type=_option, action="append", default=[],
                        metavar="NAME=VALUE", help="a run option for every run")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.getLogger("vo_ocml").setLevel(logging.ERROR)
    options = dict(args.set)
    print(f"{'cone':20s} {'cut':14s} {'rows':>6s} {'whole':>6s} {'cut run':>7s} {'both':>6s} "
          f"{'F1':>5s} {'s':>5s}")
    scores = []
    for stem, name in CONES.items():
        if args.only and stem not in args.only:
            continue
        table = Table.read(args.shared / "gaia" / f"{stem}.csv", format="ascii.csv")
        whole = np.asarray(run(table, cluster=name, **options).table["ocml_member"], bool)
        columns = resolve_columns(table)
        parallax, g = (columns.array(table, q) for q in ("parallax", "phot_g_mean_mag"))
        cuts = {f"plx >= {PARALLAX_CUT:g}": parallax >= PARALLAX_CUT,
                "plx >= plx_c/2": parallax >= np.nanmedian(parallax[whole]) / 2,
                **{f"G < {cut:g}": g < cut for cut in G_CUTS}}
        for label, keep in cuts.items():
            if keep.sum() < MIN_ROWS or whole[keep].sum() < MIN_MEMBERS:
                continue
            t0 = time.perf_counter()
            try:
                found = np.asarray(run(table[keep], **options).table["ocml_member"], bool)
            except VoOcmlError as exc:
                print(f"{stem:20s} {label:14s} {exc}")
                continue
            both = int(np.sum(found & whole[keep]))
            f1 = 2 * both / max(found.sum() + whole[keep].sum(), 1)
            scores.append(f1)
            print(f"{stem:20s} {label:14s} {keep.sum():6d} {whole[keep].sum():6d} "
                  f"{found.sum():7d} {both:6d} {f1:5.2f} {time.perf_counter() - t0:5.1f}",
                  flush=True)
    if scores:
        print(f"\n{len(scores)} cuts: F1 median {np.median(scores):.2f}, "
              f"below 0.9: {sum(s < 0.9 for s in scores)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
