"""Default services and tables of the TAP fetcher (standard library only, so that the CLI
parser can show them without importing pyvo or astropy)."""

from __future__ import annotations

__all__ = ["DEFAULT_GAIA_TAP", "DEFAULT_GMAX", "GAIA_TABLE", "HUNT_MEMBERS_TABLE", "VIZIER_TAP"]

#: the ESA Gaia archive's TAP service
DEFAULT_GAIA_TAP = "https://gea.esac.esa.int/tap-server/tap"
#: CDS VizieR's TAP service
VIZIER_TAP = "https://tapvizier.cds.unistra.fr/TAPVizieR/tap"
#: the Gaia archive's DR3 source table
GAIA_TABLE = "gaiadr3.gaia_source"
#: Hunt & Reffert (2023, A&A 673, A114) members in VizieR (a delimited identifier in ADQL)
HUNT_MEMBERS_TABLE = "J/A+A/673/A114/members"
#: default faint limit in Gaia G (mag), as in the source study
DEFAULT_GMAX = 20.0
