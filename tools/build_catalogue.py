"""Build the compact cluster catalogue shipped in ``vo_ocml/catalog/data/``.

Run from the repository root with the project's shared data beside it::

    python tools/build_catalogue.py ../shared/data/catalogues

Sources, in order of precedence (a cluster already present under any of its names is not
added again): Hunt & Reffert 2023 (A&A 673, A114), Cantat-Gaudin et al. 2020 (A&A 640, A1),
Dias et al. 2002 (A&A 389, 871), then the Unified Cluster Catalogue (Perren et al. 2023,
MNRAS 526, 4107), whose alias lists also give extra names (e.g. "M 67", "Messier 67").

Dias et al. 2002 positions are cross-checked against the UCC by name: where the two disagree by
more than :data:`DIAS_UCC_TOLERANCE_ARCMIN`, the UCC's entry is taken instead (under the Dias
name). The Dias table's RA/DEC are J2000 (median 1.9' from the UCC over the 1,403 clusters both
list), but two entries are B1950 positions: Saurer 1 and Saurer 6 stand 39' and 26' from the UCC
as J2000, 1.2' and 0.8' once read as B1950 and precessed. The other 95 beyond the tolerance are
not B1950 (centres of large sparse clusters, or other objects under the same name).
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vo_ocml.catalog.names import normalize_name  # noqa: E402
from vo_ocml.membership.sky import angular_distance  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "vo_ocml" / "catalog" / "data" / "clusters.csv"
COLUMNS = ("name", "aliases", "ra", "dec", "r50", "rt", "pmra", "pmdec", "parallax",
           "s_pmra", "s_pmdec", "s_parallax", "n_members", "hunt_name", "catalogue")

#: largest Dias et al. 2002 - UCC separation (arcmin) for one name before the UCC's entry is taken.
#: Same-name offsets have a median of 1.9' and a 90th percentile of 7.3' (1,403 clusters in
#: both); a position left in B1950 moves by up to 42' (50 years of precession at 50.3"/yr).
DIAS_UCC_TOLERANCE_ARCMIN = 10.0


def _num(value: str | None) -> str:
    try:
        x = float(value) if value not in (None, "") else math.nan
    except ValueError:
        return ""
    return "" if math.isnan(x) else f"{x:.6g}"


def _sexagesimal(text: str, hours: bool) -> str:
    parts = [float(p) for p in text.replace(":", " ").split()]
    sign = -1.0 if text.strip().startswith("-") else 1.0
    value = abs(parts[0]) + sum(p / 60 ** (i + 1) for i, p in enumerate(parts[1:]))
    return f"{sign * value * (15.0 if hours else 1.0):.6f}"


def _hunt(directory: Path) -> list[dict[str, str]]:
    rows = []
    for r in csv.DictReader(open(directory / "hunt2023.csv", encoding="utf-8")):
        names = [r["Name"], *r["AllNames"].split(",")]
        rows.append({
            "name": r["Name"], "aliases": names, "ra": _num(r["RA_ICRS"]), "dec": _num(r["DE_ICRS"]),
            "r50": _num(r["r50"]), "rt": _num(r["rt"]), "pmra": _num(r["pmRA"]),
            "pmdec": _num(r["pmDE"]), "parallax": _num(r["Plx"]), "s_pmra": _num(r["s_pmRA"]),
            "s_pmdec": _num(r["s_pmDE"]), "s_parallax": _num(r["s_Plx"]), "n_members": r["N"],
            "hunt_name": r["Name"].replace(" ", "_"), "catalogue": "Hunt & Reffert 2023",
        })
    return rows


def _cantat(directory: Path) -> list[dict[str, str]]:
    rows = []
    for r in csv.DictReader(open(directory / "cantat2020.csv", encoding="utf-8")):
        name = r["Cluster"].replace("_", " ")
        rows.append({
            "name": name, "aliases": [name, r["Cluster"]], "ra": _num(r["RA_ICRS"]),
            "dec": _num(r["DE_ICRS"]), "r50": _num(r["r50"]), "rt": "", "pmra": _num(r["pmRA*"]),
            "pmdec": _num(r["pmDE"]), "parallax": _num(r["plx"]), "s_pmra": "", "s_pmdec": "",
            "s_parallax": "", "n_members": r["nbstars07"], "hunt_name": "",
            "catalogue": "Cantat-Gaudin et al. 2020",
        })
    return rows


def _dias(directory: Path) -> list[dict[str, str]]:
    rows = []
    for r in csv.DictReader(open(directory / "dias2002.csv", encoding="utf-8")):
        dist = float(r["Dist"]) if r["Dist"] not in ("", "nan") else math.nan
        diam = float(r["Diam"]) if r["Diam"] not in ("", "nan") else math.nan
        rows.append({
            "name": r["Cluster"], "aliases": [r["Cluster"]],
            "ra": _sexagesimal(r["RA"], hours=True), "dec": _sexagesimal(r["DEC"], hours=False),
            "r50": _num(str(diam / 2 / 60)), "rt": "", "pmra": _num(r["pmRA"]),
            "pmdec": _num(r["pmDE"]), "parallax": _num(str(1000.0 / dist)) if dist > 0 else "",
            "s_pmra": "", "s_pmdec": "", "s_parallax": "", "n_members": _num(r["Nc"]),
            "hunt_name": "", "catalogue": "Dias et al. 2002",
        })
    return rows


def _ucc(directory: Path) -> list[dict[str, str]]:
    rows = []
    for r in csv.DictReader(open(directory / "ucc_cat.csv", encoding="utf-8")):
        names = r["Name(s)"].split(";")
        rows.append({
            "name": names[0], "aliases": names, "ra": _num(r["RA_ICRS"]), "dec": _num(r["DE_ICRS"]),
            "r50": _num(str(float(r["r_50"]) / 60)) if r["r_50"] not in ("", "nan") else "",
            "rt": "", "pmra": _num(r["pmRA"]), "pmdec": _num(r["pmDE"]), "parallax": _num(r["Plx"]),
            "s_pmra": "", "s_pmdec": "", "s_parallax": "", "n_members": _num(r["N_membs"]),
            "hunt_name": "", "catalogue": "Perren et al. 2023 (UCC)",
        })
    return rows


def prefer_ucc_positions(dias: list[dict], ucc: list[dict],
                         tolerance_arcmin: float = DIAS_UCC_TOLERANCE_ARCMIN,
                         ) -> tuple[list[dict], list[str]]:
    """Replace each Dias entry that stands too far from the UCC entry of the same name.

    A Dias name is looked up among the UCC's primary names first, then among its aliases. Where
    the two positions are more than ``tolerance_arcmin`` apart, the UCC's entry takes the Dias
    entry's place, keeping the Dias name as its name.

    Returns
    -------
    rows : list of dict
        The Dias entries, some replaced.
    replaced : list of str
        The names of the replaced entries.
    """
    by_name: dict[str, dict] = {}
    for row in ucc:
        by_name.setdefault(normalize_name(row["name"]), row)
    for row in ucc:
        for alias in row["aliases"]:
            if alias.strip():
                by_name.setdefault(normalize_name(alias), row)
    rows, replaced = [], []
    for row in dias:
        other = by_name.get(normalize_name(row["name"]))
        if other is not None and other["ra"] and other["dec"]:
            offset = 60.0 * float(angular_distance(float(row["ra"]), float(row["dec"]),
                                                   float(other["ra"]), float(other["dec"])))
            if offset > tolerance_arcmin:
                row = {**other, "name": row["name"], "aliases": [row["name"], *other["aliases"]]}
                replaced.append(row["name"])
        rows.append(row)
    return rows, replaced


def build(directory: Path) -> int:
    """Merge the catalogues into ``clusters.csv``; returns the number of clusters written.

    Every Hunt & Reffert 2023 cluster is kept; a cluster of a later catalogue is added only
    when none of its names is known yet. Dias et al. 2002 entries far from the UCC's position
    for the same name are replaced by the UCC's entry (:func:`prefer_ucc_positions`). The UCC's alias lists are attached to the entry whose
    primary name is the UCC's first name, so "M 67" and "Messier 67" find NGC 2682.
    """
    hunt, ucc = _hunt(directory), _ucc(directory)
    dias, replaced = prefer_ucc_positions(_dias(directory), ucc)
    print(f"{len(replaced)} Dias et al. 2002 entries more than {DIAS_UCC_TOLERANCE_ARCMIN:g}' from "
          f"the UCC's position, the UCC's entry taken: {', '.join(replaced)}", file=sys.stderr)
    merged: list[dict] = list(hunt)
    known = {normalize_name(a) for row in hunt for a in row["aliases"] if a.strip()}
    for source in (_cantat(directory), dias, ucc):
        for row in source:
            keys = {normalize_name(a) for a in row["aliases"] if a.strip()}
            if keys & known:
                continue
            known |= keys
            merged.append(row)
    primary = {normalize_name(row["name"]): row for row in merged}
    for row in ucc:
        target = primary.get(normalize_name(row["name"]))
        if target is not None and target is not row:
            target["aliases"] = [*target["aliases"], *row["aliases"]]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in merged:
            aliases = list(dict.fromkeys(a.strip() for a in row["aliases"] if a.strip()))
            writer.writerow({**row, "aliases": ";".join(aliases)})
    return len(merged)


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/catalogues")))
