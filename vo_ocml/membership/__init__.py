"""Membership estimators: arrays in, probabilities out (no files, SAMP or network here).

:class:`~vo_ocml.membership.mstgmm.MSTGMM` (filter → MST → GMM) and
:class:`~vo_ocml.membership.dec.DEC` (Deep Embedded Clustering) share the result type
:class:`~vo_ocml.membership.base.MembershipResult` and the stage codes of
:mod:`vo_ocml.membership.base`.
"""
