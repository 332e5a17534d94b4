"""The CLI tests, one file per command group (a package: its conftest.py must not clash with
tests/conftest.py when pytest imports both as modules, under --doctest-modules)."""
