"""The error tree: builtin bases Python callers expect, and messages that say what to do."""

from __future__ import annotations

import pytest

import casdb
from casdb.api import Repository
from casdb.core.errors import (
    AlreadyExists,
    Error,
    IntegrityError,
    InvalidDataset,
    InvalidInput,
    NotFound,
)
from casdb.testing.cli import run_casdb


def test_not_found_is_a_lookup_error_and_invalid_input_a_value_error(repo, tmp_path):
    assert issubclass(NotFound, LookupError) and issubclass(NotFound, Error)
    assert issubclass(InvalidInput, ValueError) and issubclass(InvalidDataset, ValueError)
    assert not issubclass(IntegrityError, ValueError)  # damaged data is not a bad argument
    assert not issubclass(AlreadyExists, LookupError)
    # Raised for real, caught by the builtin a caller would write.
    with pytest.raises(LookupError) as missing:
        repo.resolve("nope")
    assert isinstance(missing.value, NotFound) and missing.value.exit_code == 4
    with pytest.raises(ValueError) as bad:
        repo.commit(tmp_path, dataset="bad name")
    assert isinstance(bad.value, InvalidInput) and bad.value.exit_code == 2
    with pytest.raises(LookupError):
        Repository(tmp_path / "none")


@pytest.mark.parametrize("url", ["gs://bucket/corpora", "GS://bucket", "http://host/x",
                                 "azure://user:secret@account/c"])
def test_an_unsupported_url_names_the_supported_ones(url, tmp_path):
    for call in (lambda: casdb.load("d", repo=url, cache_root=tmp_path / "c"),
                 lambda: Repository(url)):
        with pytest.raises(InvalidInput) as caught:
            call()
        message = str(caught.value)
        assert message.startswith("unsupported repository URL")
        assert "s3://bucket/prefix" in message and "file://" in message
        assert "casdb.load" not in message and "secret" not in message
    done = run_casdb("ls", repo=url)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "unsupported repository URL" in done.stderr


def test_an_s3_url_where_a_local_repository_is_needed_says_how_to_load(tmp_path):
    with pytest.raises(InvalidInput, match=r"is a remote: clone it .*casdb.load\(NAME, repo=URL\)"):
        Repository("s3://bucket/prefix")
