"""Checkouts: a version placed as an audformat folder in the cache (or a folder), through an object source; the cache folder layout, links, selection, verification, converted files, ``Dataset``.
"""
