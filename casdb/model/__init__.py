"""The object model: frozen dataclasses (no I/O), their canonical encoding, compression, content-defined chunking and the object graph (``references``).
"""
