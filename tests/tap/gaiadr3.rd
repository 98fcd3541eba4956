<resource schema="gaiadr3">
  <meta name="title">vo_ocml test copy of Gaia DR3 gaia_source (two cluster fields)</meta>
  <meta name="description">Real Gaia DR3 rows around NGC 2682 (M67) and Melotte 22
    (Pleiades), pre-cut to proper-motion boxes, served under the Gaia archive's
    gaiadr3.gaia_source names so that vo_ocml's TAP fetcher can be tested offline.
    Gaia Collaboration 2016 (A&amp;A 595, A1), 2023 (A&amp;A 674, A1); ESA/Gaia/DPAC.</meta>
  <meta name="creationDate">2026-11-23T00:00:00Z</meta>
  <meta name="subject">open-star-clusters</meta>
  <meta name="creator.name">Gaia Collaboration</meta>

  <table id="gaia_source" onDisk="True" adql="True" primary="source_id"
      mixin="//scs#q3cindex">
    <meta name="description">Gaia DR3 sources (subset; column names, units and
      UCDs as in the Gaia archive's gaiadr3.gaia_source).</meta>
    <column name="source_id" type="bigint" ucd="meta.id;meta.main"
      required="True" description="Unique source identifier"/>
    <column name="ra" type="double precision" unit="deg"
      ucd="pos.eq.ra;meta.main" description="Right ascension (ICRS, epoch 2016.0)"/>
    <column name="ra_error" type="real" unit="mas"
      ucd="stat.error;pos.eq.ra" description="Standard error of right ascension"/>
    <column name="dec" type="double precision" unit="deg"
      ucd="pos.eq.dec;meta.main" description="Declination (ICRS, epoch 2016.0)"/>
    <column name="dec_error" type="real" unit="mas"
      ucd="stat.error;pos.eq.dec" description="Standard error of declination"/>
    <column name="parallax" type="double precision" unit="mas"
      ucd="pos.parallax.trig" description="Parallax"/>
    <column name="parallax_error" type="real" unit="mas"
      ucd="stat.error;pos.parallax.trig" description="Standard error of parallax"/>
    <column name="pmra" type="double precision" unit="mas/yr"
      ucd="pos.pm;pos.eq.ra" description="Proper motion in right ascension (mu_alpha*)"/>
    <column name="pmra_error" type="real" unit="mas/yr"
      ucd="stat.error;pos.pm;pos.eq.ra" description="Standard error of pmra"/>
    <column name="pmdec" type="double precision" unit="mas/yr"
      ucd="pos.pm;pos.eq.dec" description="Proper motion in declination"/>
    <column name="pmdec_error" type="real" unit="mas/yr"
      ucd="stat.error;pos.pm;pos.eq.dec" description="Standard error of pmdec"/>
    <column name="ruwe" type="real"
      ucd="stat.error;phys.npoint" description="Renormalised unit weight error"/>
    <column name="phot_g_mean_mag" type="real" unit="mag"
      ucd="phot.mag;em.opt" description="G-band mean magnitude"/>
    <column name="phot_bp_mean_mag" type="real" unit="mag"
      ucd="phot.mag;em.opt.B" description="Integrated BP mean magnitude"/>
    <column name="phot_rp_mean_mag" type="real" unit="mag"
      ucd="phot.mag;em.opt.R" description="Integrated RP mean magnitude"/>
    <column name="bp_rp" type="real" unit="mag"
      ucd="phot.color;em.opt.B;em.opt.R" description="BP - RP colour"/>
    <column name="radial_velocity" type="real" unit="km/s"
      ucd="spect.dopplerVeloc.opt;em.opt.I" description="Radial velocity"/>
    <column name="radial_velocity_error" type="real" unit="km/s"
      ucd="stat.error;spect.dopplerVeloc.opt;em.opt.I"
      description="Radial velocity error"/>
  </table>

  <data id="import">
    <sources>data/gaia_source.csv</sources>
    <csvGrammar/>
    <make table="gaia_source"/>
  </data>
</resource>
