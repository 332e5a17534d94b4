"""Remotes: the remote layout (packs, indexes, refs), push/fetch/pull, clone, repairs from a remote, and the remote view (an object source for loads without a clone).
"""
