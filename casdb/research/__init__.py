"""Research workflows on top of checkouts and commits: benchmark splits (EmoBox, SERAB, LOSO,
k-fold, balanced test sets) and compositions of several corpora with label maps; each result a
committed version that stores no new media bytes.
"""
