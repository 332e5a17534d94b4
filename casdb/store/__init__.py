"""Storage: backends behind one Protocol, the object store, refs (compare-and-swap), tombstones, stat fingerprints and the reachability walk.
"""
