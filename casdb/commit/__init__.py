"""Commit: scanning a source folder, the stat cache, ingest into the blob store, the commit protocol.
"""
