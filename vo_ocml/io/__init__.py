"""Reading, resolving and writing tables (astropy; fast VOTable paths)."""
