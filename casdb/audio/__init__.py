"""Audio: probing files, the ``Flavour`` value object, block-wise conversion, decodability checks.
"""
