"""The atomic-write helper: all or nothing, put-if-absent, errors translated."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from casdb.core.atomic import atomic_file, atomic_write
from casdb.core.errors import StorageError


def test_replace_and_exclusive(tmp_path):
    path = tmp_path / "f"
    assert atomic_write(path, b"one")
    assert atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert not atomic_write(path, b"three", exclusive=True)
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_exception_in_block_places_nothing(tmp_path):
    path = tmp_path / "f"
    with pytest.raises(RuntimeError), atomic_file(path, tmp_dir=tmp_path) as pending:
        pending.file.write(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_destination_chosen_after_writing(tmp_path):
    with atomic_file(None, tmp_dir=tmp_path, mode=0o444) as pending:
        pending.file.write(b"x")
        pending.path = tmp_path / "named-later"
    assert pending.placed and (tmp_path / "named-later").read_bytes() == b"x"


def test_write_into_missing_folder_is_storage_error(tmp_path):
    with pytest.raises(StorageError, match="cannot write"):
        atomic_write(tmp_path / "no" / "such" / "f", b"x")


def test_file_size_limit_is_storage_error_and_leaves_old_content(tmp_path):
    """A real write failure from the kernel (RLIMIT_FSIZE -> EFBIG), in a child process."""
    path = tmp_path / "f"
    atomic_write(path, b"old")
    code = textwrap.dedent(f"""
        import resource, signal, sys
        from casdb.core.atomic import atomic_write
        from casdb.core.errors import StorageError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            atomic_write({str(path)!r}, b"x" * 5000)
        except StorageError as exc:
            print(exc); sys.exit(3)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert "File too large" in result.stdout
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
