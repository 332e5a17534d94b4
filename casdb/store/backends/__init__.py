"""Storage backends: where a repository's files live (a local folder now; object stores later).

A backend maps keys (``objects/ab/cdef...``, ``refs/emodb/tags/1.0.0``) to bytes through the small
protocol of :class:`casdb.store.backends.base.Backend`, which every backend implements.
"""
