"""History: folder trees, ancestry and diffs, logs, one version read back (``Snapshot``), the data card, and the plumbing ``BaseRepository``.
"""
