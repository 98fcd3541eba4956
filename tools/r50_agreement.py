"""How well two Gaia catalogues agree on open clusters' half-number radii (r50).

The reason for :data:`vo_ocml.membership.result.R50_TOLERANCE` and
:data:`~vo_ocml.membership.result.R50_LOG_SD`: the ratio of Hunt & Reffert
(2023)'s r50 to Cantat-Gaudin et al. (2020)'s for every cluster both list (matched by name,
Hunt & Reffert's ``AllNames`` against Cantat-Gaudin's ``Cluster``). Run from the repository
root with the project's shared data beside it::

    python tools/r50_agreement.py ../shared/data/catalogues
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

#: the percentiles printed
PERCENTILES = (1, 5, 10, 50, 90, 95, 99)


def ratios(folder: Path) -> np.ndarray:
    """r50 (Hunt & Reffert 2023) / r50 (Cantat-Gaudin et al. 2020), one per shared cluster."""
    hunt: dict[str, float] = {}
    with open(folder / "hunt2023.csv", newline="") as f:
        for row in csv.DictReader(f):
            for name in row["AllNames"].split(","):
                hunt[name.strip()] = float(row["r50"])
    out = []
    with open(folder / "cantat2020.csv", newline="") as f:
        for row in csv.DictReader(f):
            theirs, ours = float(row["r50"]), hunt.get(row["Cluster"], np.nan)
            if theirs > 0 and ours > 0:
                out.append(ours / theirs)
    return np.array(out)


def main(argv: list[str]) -> int:
    r = ratios(Path(argv[0]) if argv else Path("../shared/data/catalogues"))
    values = np.percentile(r, PERCENTILES)
    print(f"{len(r)} clusters in both; r50 ratio percentiles: "
          + ", ".join(f"{q} %: {v:.2f}" for q, v in zip(PERCENTILES, values)))
    print(f"  standard deviation of the natural log of the ratio: {np.std(np.log(r)):.3f}")
    apart = np.maximum(r, 1 / r)
    for factor in (2, 3, 4, 5):
        print(f"  the two differ by more than ×{factor}: {np.mean(apart > factor):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
