"""Maintenance: checking a repository (``fsck``) and collecting what no ref reaches (``gc``,
in the repository and on a remote).

The public functions are :func:`casdb.maintenance.fsck` and :func:`casdb.maintenance.gc`.
"""
