"""The base layer: errors, ids, names, paths, atomic writes, locks, file copies, progress, units.

Imports nothing else of casdb.
"""
