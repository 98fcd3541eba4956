"""The photometric term: the cluster's sequence in the CMD against the field's colours."""

from importlib import resources

import numpy as np
import pytest

from vo_ocml.io.tables import read_table
from vo_ocml.membership.dec import DEC
from vo_ocml.membership.gaia_precision import nominal_errors
from vo_ocml.membership.photometry import SEQUENCE_DEGREE, ColourTerm, _sequence_fit
from vo_ocml.pipeline import run


def _cmd(rng, n_members=300, n_field=3000):
    g = np.concatenate([rng.uniform(12, 20, n_members), rng.uniform(12, 20, n_field)])
    sequence = 0.5 + 0.12 * (g - 12)
    colour = np.where(np.arange(len(g)) < n_members, sequence + rng.normal(0, 0.03, len(g)),
                      rng.uniform(0.3, 3.0, len(g)))
    p = (np.arange(len(g)) < n_members).astype(float)
    return g, colour, p, sequence


def test_on_sequence_stars_gain_and_off_sequence_stars_lose():
    g, colour, p, sequence = _cmd(np.random.default_rng(1))
    b = np.digitize(g, [14, 16, 18])
    term = ColourTerm.fit(g, colour, b, 5, p)
    probe_g = np.array([19.0, 19.0])
    probe_c = np.array([0.5 + 0.12 * 7, 0.5 + 0.12 * 7 + 1.0])  # on, and 1 mag redder
    lc, lf = term.log_terms(probe_g, probe_c, np.digitize(probe_g, [14, 16, 18]))
    assert lc[0] - lf[0] > np.log(5)        # on the sequence: favoured
    assert lc[1] - lf[1] < 0                # 1 mag off it: the field's colour is likelier
    assert term.scatter.min() >= 0.02


def test_field_stars_taken_for_members_by_their_colour_stay_in_the_field_colours():
    """Field stars on the sequence that the colour term itself made members (P 0.9, P without
    the term 0.1) are still field stars to compare with: with ``field_p`` the field's density
    on the sequence counts them, and the term favours the sequence less."""
    rng = np.random.default_rng(4)
    g, colour, p, _ = _cmd(rng, n_field=1000)
    on = rng.uniform(12, 20, 300)
    g, colour = np.concatenate([g, on]), np.concatenate([colour, 0.5 + 0.12 * (on - 12)])
    p_full, p_kin = np.concatenate([p, np.full(300, 0.9)]), np.concatenate([p, np.full(300, 0.1)])
    b = np.digitize(g, [14, 16, 18])
    probe_g, probe_c = np.array([17.0]), np.array([0.5 + 0.12 * 5])
    ratio = {}
    for name, field_p in (("full", None), ("kinematic", p_kin)):
        term = ColourTerm.fit(g, colour, b, 5, p_full, field_p=field_p)
        lc, lf = term.log_terms(probe_g, probe_c, np.digitize(probe_g, [14, 16, 18]))
        ratio[name] = float(lc[0] - lf[0])
    assert ratio["kinematic"] < ratio["full"] - np.log(2)


def test_stars_without_colour_get_no_term():
    g, colour, p, _ = _cmd(np.random.default_rng(2))
    b = np.digitize(g, [14, 16, 18])
    term = ColourTerm.fit(g, colour, b, 5, p)
    lc, lf = term.log_terms(np.array([15.0, np.nan]), np.array([np.nan, 1.0]), np.array([1, 4]))
    assert np.all(lc == 0) and np.all(lf == 0)


def test_a_faint_bins_scatter_follows_its_own_members_not_the_bright_ones():
    """Gaia's BP−RP errors grow from 0.01 mag at G 15 to 0.2 at G 20.5: the faint bin's
    scatter is its members' (clipped at 3 × the bright members' 0.03, it was 0.1)."""
    rng = np.random.default_rng(5)
    g = rng.uniform(12, 20.8, 600)
    sd = np.where(g < 19.5, 0.03, 0.2)
    colour = 0.5 + 0.12 * (g - 12) + rng.normal(0, 1, len(g)) * sd
    b = np.digitize(g, [15, 17, 19.5])
    term = ColourTerm.fit(g, colour, b, 5, np.ones(len(g)))
    assert term.scatter[0] < 0.04
    assert 0.17 < term.scatter[3] < 0.23


def test_the_sequence_is_numpys_weighted_polynomial_fit():
    """The sequence's own least squares gives np.polyfit's polynomial, weights included."""
    rng = np.random.default_rng(4)
    g = rng.uniform(12.0, 21.0, 3000)
    colour = 0.6 + 0.12 * (g - 16) + 0.01 * (g - 16) ** 3 + rng.normal(0, 0.05, g.size)
    weights = rng.uniform(0, 1, g.size) * (g < 19.5)  # the faint stars carry no weight
    ours = _sequence_fit(g, colour, weights)
    numpy = np.polyfit(g, colour, SEQUENCE_DEGREE, w=np.sqrt(weights))
    assert ours.shape == numpy.shape
    np.testing.assert_allclose(np.polyval(ours, g), np.polyval(numpy, g), atol=1e-10)


def test_too_few_members_give_no_term():
    g, colour, p, _ = _cmd(np.random.default_rng(3), n_members=5, n_field=100)
    assert ColourTerm.fit(g, colour, np.zeros(len(g), int), 1, p) is None


@pytest.fixture(scope="module")
def default_table():
    return read_table(resources.files("vo_ocml.data") / "ngc2477_cone.vot")


def _faint_removed_off_sequence(table, plain, phot) -> tuple[int, int]:
    """Check that the faint (G ≥ 20) members a run without the term (``plain``) has and the
    run with it (``phot``) drops are more than a tenth of them and lie off the sequence (their
    BP−RP offset from a cubic through ``plain``'s sure members over twice the kept ones');
    returns how many it dropped and how many there were."""
    g = np.asarray(table["phot_g_mean_mag"], float)
    colour = np.asarray(table["bp_rp"], float)
    p_plain = np.nan_to_num(plain.result.probability)
    p_phot = np.nan_to_num(phot.result.probability)
    sure = (p_plain > 0.9) & np.isfinite(colour) & np.isfinite(g)
    offset = np.abs(colour - np.polyval(np.polyfit(g[sure], colour[sure], 3), g))
    faint = (g >= 20) & (p_plain > 0.5)
    removed, kept = faint & (p_phot <= 0.5), faint & (p_phot > 0.5)
    assert removed.sum() > 0.1 * faint.sum()
    assert np.nanmedian(offset[removed]) > 2 * np.nanmedian(offset[kept])
    return int(removed.sum()), int(faint.sum())


def test_the_photometric_term_removes_off_sequence_faint_members_and_keeps_the_summary(
        default_table):
    """On the embedded default the term takes away faint members that lie off the cluster's
    sequence (G ≥ 20: the counts measured are in docs/report.md) and leaves the parallax
    where it was; ``photometric=False`` (the term is on by default) keeps it out."""
    plain, phot = run(default_table, photometric=False), run(default_table)
    assert phot.result.details["mixture"]["photometric"] is True
    assert plain.result.details["mixture"]["photometric"] is False
    removed, n_faint = _faint_removed_off_sequence(default_table, plain, phot)
    assert removed < 0.75 * n_faint
    assert abs(phot.summary.parallax - plain.summary.parallax) < 3 * plain.summary.parallax_se


def test_a_table_without_colour_runs_without_the_term(default_table):
    table = default_table.copy()
    table.remove_column("bp_rp")
    a = run(table, photometric=True)
    assert a.summary.found and a.result.details["mixture"]["photometric"] is False


def test_dec_takes_the_term_too(default_table):
    """DEC's likelihood ratio adds the same term by default (``photometric=False`` leaves it
    out): faint members off the cluster's sequence go, and ``predict_proba`` given the colours
    scores the rows as the fit did."""
    fast = dict(n_seeds=2, pretrain_steps=150, max_iter=5, batch_size=256)
    plain = run(default_table, method="dec", photometric=False, **fast)
    phot = run(default_table, method="dec", **fast)
    assert phot.result.details["likelihood_ratio"]["photometric"] is True
    assert plain.result.details["likelihood_ratio"]["photometric"] is False
    _faint_removed_off_sequence(default_table, plain, phot)
    g = np.asarray(default_table["phot_g_mean_mag"], float)
    colour = np.asarray(default_table["bp_rp"], float)
    X = np.column_stack([np.asarray(default_table[c], float)
                         for c in ("ra", "dec", "pmra", "pmdec", "parallax")])
    E = nominal_errors(g)  # the table has no error columns: Gaia's errors at each G
    dec = DEC(**fast).fit(X, errors=E, magnitude=g, colour=colour)
    assert dec.result_.details["likelihood_ratio"]["photometric"] is True
    np.testing.assert_allclose(dec.predict_proba(X, errors=E, magnitude=g, colour=colour)[:, 1],
                               dec.result_.probability, atol=1e-6)
