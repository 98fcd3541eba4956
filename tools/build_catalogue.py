"""Build the compact cluster catalogue shipped in ``vo_ocml/catalog/data/``.

Run from the repository root with the project's shared data beside it::

    python tools/build_catalogue.py ../shared/data/catalogues

Sources, in order of precedence (a cluster already present under any of its names is not
added again): Hunt & Reffert 2023 (A&A 673, A114), Cantat-Gaudin et al. 2020 (A&A 640, A1),
Dias et al. 2002 (A&A 389, 871), then the Unified Cluster Catalogue (Perren et al. 2023,
MNRAS 526, 4107), whose alias lists also give extra names (e.g. "M 67", "Messier 67").

Two Dias et al. 2002 corrections, each checked against the UCC entry of the same name (its
primary name first, then its aliases) and recorded in the ``catalogue`` column (see
:data:`SOURCE_FORMAT`):

- B1950 positions (:func:`correct_b1950_positions`). The Dias table's RA/DEC are J2000 (median
  1.9' from the UCC over the 1,403 clusters both list), but two entries are B1950: Saurer 1 and
  Saurer 6 stand 39' and 26' from the UCC as J2000, 1.2' and 0.8' once read as B1950 and
  precessed. Such a position is precessed; every other Dias position is kept as Dias has it,
  however far from the UCC's (large sparse clusters, or other objects under the same name:
  NGC 1981 is the classical cluster in Dias and a 100'-distant grouping in the UCC).
- Missing astrometry (:func:`fill_astrometry_from_ucc`). A Dias entry without proper motion or
  parallax takes the missing ones from the UCC entry of the same name when that entry is the
  same cluster on the sky (:data:`SAME_CLUSTER_R50`, :data:`SAME_CLUSTER_SIZE_RATIO`,
  :data:`SAME_CLUSTER_PARALLAX_RATIO`). The UCC gives no spreads, so none are filled.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import astropy.units as u
from astropy.coordinates import FK4, ICRS, SkyCoord

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vo_ocml.catalog.names import normalize_name  # noqa: E402
from vo_ocml.membership.sky import angular_distance  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "vo_ocml" / "catalog" / "data" / "clusters.csv"
COLUMNS = ("name", "aliases", "ra", "dec", "r50", "rt", "pmra", "pmdec", "parallax",
           "s_pmra", "s_pmdec", "s_parallax", "n_members", "hunt_name", "catalogue")

DIAS = "Dias et al. 2002"
UCC = "Perren et al. 2023 (UCC)"
#: how the ``catalogue`` column records sources: the entry's catalogue, then, for values taken
#: elsewhere, "; <columns>: <source>" (e.g. "Dias et al. 2002; pmra, pmdec: Perren et al. 2023
#: (UCC)"); read back by :meth:`vo_ocml.catalog.ClusterEntry.source_of`
SOURCE_FORMAT = "{catalogue}; {columns}: {source}"
#: the source recorded for a Dias position read as B1950 and precessed
B1950_SOURCE = f"{DIAS} read as B1950, precessed"

#: a Dias et al. 2002 position is B1950 when, read as B1950 (FK4) and precessed to J2000, it
#: lies within this many arcmin of the UCC position of the same name and, read as J2000, does
#: not. Of the 1,403 Dias clusters the UCC lists, only Saurer 6 and Saurer 1 come within 3' so
#: (0.8' and 1.2'); of those brought closer by the B1950 reading the next is NGC 1901 (4.9', 7.9'
#: as J2000). 68% of the J2000 readings are within 3' (median 1.9').
B1950_TOLERANCE_ARCMIN = 3.0
#: a UCC entry is the same cluster as the Dias entry of its name when their centres are at most
#: this many times the smaller of the two r50 apart (each centre within the other's half-member
#: radius) ...
SAME_CLUSTER_R50 = 1.0
#: ... their r50 differ by at most this factor (Dias's r50 is half its catalogued diameter, a
#: visual size: the ratio Dias/UCC has a median of 0.69 and a 5-95% range of 0.17-2.1 over the
#: 1,320 namesakes with both) ...
SAME_CLUSTER_SIZE_RATIO = 3.0
#: ... and, where Dias gives a distance, their parallaxes differ by at most this factor (Platais
#: 4: 3.6 mas in Dias, 0.09 mas in the UCC). Of the 604 namesakes with both parallaxes, 89% of
#: the 435 that pass the position and size checks agree within this factor, 70% of the others.
SAME_CLUSTER_PARALLAX_RATIO = 2.0
#: the astrometric values filled from the UCC where Dias lacks them
FILLED = ("pmra", "pmdec", "parallax")


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
            "hunt_name": "", "catalogue": DIAS,
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
            "hunt_name": "", "catalogue": UCC,
        })
    return rows


def ucc_by_name(ucc: list[dict]) -> dict[str, dict]:
    """The UCC entries by normalised name: primary names first, then aliases."""
    by_name: dict[str, dict] = {}
    for row in ucc:
        by_name.setdefault(normalize_name(row["name"]), row)
    for row in ucc:
        for alias in row["aliases"]:
            if alias.strip():
                by_name.setdefault(normalize_name(alias), row)
    return by_name


def _separation_arcmin(a: dict, b: dict) -> float:
    return 60.0 * float(angular_distance(float(a["ra"]), float(a["dec"]),
                                         float(b["ra"]), float(b["dec"])))


def _add_source(row: dict, columns: list[str], source: str) -> str:
    return SOURCE_FORMAT.format(catalogue=row["catalogue"], columns=", ".join(columns),
                                source=source)


def correct_b1950_positions(dias: list[dict], ucc: dict[str, dict],
                            tolerance_arcmin: float = B1950_TOLERANCE_ARCMIN,
                            ) -> tuple[list[dict], list[str]]:
    """Precess the Dias positions that are B1950 to J2000 (ICRS).

    A position is taken to be B1950 when, read as B1950 (FK4) and precessed, it lies within
    ``tolerance_arcmin`` of the UCC position of the same name and, read as J2000, it does not.

    Parameters
    ----------
    dias : list of dict
        Dias et al. 2002 entries (``ra``, ``dec`` in degrees as text); not modified.
    ucc : dict
        UCC entries by normalised name (:func:`ucc_by_name`).
    tolerance_arcmin : float
        Largest separation from the UCC position for the B1950 reading.

    Returns
    -------
    rows : list of dict
        The Dias entries, the corrected ones as new dicts with their source recorded.
    corrected : list of str
        The names of the corrected entries.
    """
    b1950 = SkyCoord([float(row["ra"]) for row in dias] * u.deg,
                     [float(row["dec"]) for row in dias] * u.deg,
                     frame=FK4(equinox="B1950", obstime="B1950")).transform_to(ICRS())
    rows, corrected = [], []
    for row, ra, dec in zip(dias, b1950.ra.deg, b1950.dec.deg):
        other = ucc.get(normalize_name(row["name"]))
        precessed = {"ra": f"{ra:.6f}", "dec": f"{dec:.6f}"}
        if (other is not None and other["ra"] and other["dec"]
                and _separation_arcmin(row, other) > tolerance_arcmin
                and _separation_arcmin(precessed, other) <= tolerance_arcmin):
            row = {**row, **precessed, "catalogue": _add_source(row, ["ra", "dec"], B1950_SOURCE)}
            corrected.append(row["name"])
        rows.append(row)
    return rows, corrected


def same_cluster(dias_row: dict, ucc_row: dict) -> bool:
    """Whether a UCC entry is, on the sky and in size, the Dias entry of the same name.

    Both need a position and r50; see :data:`SAME_CLUSTER_R50`,
    :data:`SAME_CLUSTER_SIZE_RATIO` and :data:`SAME_CLUSTER_PARALLAX_RATIO`.
    """
    if not all(row[k] for row in (dias_row, ucc_row) for k in ("ra", "dec", "r50")):
        return False
    r50 = sorted(float(row["r50"]) for row in (dias_row, ucc_row))
    if r50[0] <= 0 or r50[1] / r50[0] > SAME_CLUSTER_SIZE_RATIO:
        return False
    if _separation_arcmin(dias_row, ucc_row) > SAME_CLUSTER_R50 * 60.0 * r50[0]:
        return False
    if dias_row["parallax"] and ucc_row["parallax"]:
        ratio = float(dias_row["parallax"]) / float(ucc_row["parallax"])
        return 1.0 / SAME_CLUSTER_PARALLAX_RATIO <= ratio <= SAME_CLUSTER_PARALLAX_RATIO
    return True


def fill_astrometry_from_ucc(dias: list[dict], ucc: dict[str, dict],
                             ) -> tuple[list[dict], dict[str, list[str]]]:
    """Take the proper motion and parallax a Dias entry lacks from the UCC's same cluster.

    Only where the UCC entry of the same name is the same cluster (:func:`same_cluster`) and
    has the value; the columns taken are recorded in the entry's ``catalogue``.

    Parameters
    ----------
    dias : list of dict
        Dias et al. 2002 entries; not modified.
    ucc : dict
        UCC entries by normalised name (:func:`ucc_by_name`).

    Returns
    -------
    rows : list of dict
        The Dias entries, the filled ones as new dicts.
    filled : dict
        Name of each filled entry → the columns taken from the UCC.
    """
    rows, filled = [], {}
    for row in dias:
        other = ucc.get(normalize_name(row["name"]))
        columns = [k for k in FILLED if not row[k] and other is not None and other[k]]
        if columns and same_cluster(row, other):
            row = {**row, **{k: other[k] for k in columns},
                   "catalogue": _add_source(row, columns, UCC)}
            filled[row["name"]] = columns
        rows.append(row)
    return rows, filled


def build(directory: Path) -> int:
    """Merge the catalogues into ``clusters.csv``; returns the number of clusters written.

    Every Hunt & Reffert 2023 cluster is kept; a cluster of a later catalogue is added only
    when none of its names is known yet. Dias et al. 2002 positions that are B1950 are
    precessed (:func:`correct_b1950_positions`), and proper motions and parallaxes Dias lacks
    are taken from the UCC's same cluster (:func:`fill_astrometry_from_ucc`). The UCC's alias
    lists are attached to the entry whose primary name is the UCC's first name, so "M 67" and
    "Messier 67" find NGC 2682.
    """
    hunt, ucc = _hunt(directory), _ucc(directory)
    by_name = ucc_by_name(ucc)
    dias, corrected = correct_b1950_positions(_dias(directory), by_name)
    dias, filled = fill_astrometry_from_ucc(dias, by_name)
    print(f"{DIAS}: B1950 positions precessed: {', '.join(corrected)}; {len(filled)} entries "
          "given UCC values they lacked (those shipped: in the catalogue column)", file=sys.stderr)
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
