"""Tables: db.yaml headers, schemes and dtypes, table files, column partitions, row diffs, DataFrames, the media index.
"""
