"""The SAMP shell of vo_ocml: ``vo-ocml listen`` answers tables sent by TOPCAT, Aladin or
STILTS with their cluster members; ``vo-ocml hub`` runs a standalone hub.

Modules: :mod:`~vo_ocml.samp.service` (client, handlers, worker queue, hub watcher),
:mod:`~vo_ocml.samp.jobs` (one table's processing), :mod:`~vo_ocml.samp.options`,
:mod:`~vo_ocml.samp.transfer` (URL policy, private directory), :mod:`~vo_ocml.samp.hub`,
:mod:`vo_ocml.commands.listen`. See ``docs/samp.md``.
"""
