"""Copies placed by the Linker: an unnamed file (O_TMPFILE) linked in once filled, or a named
temporary file where the file system cannot; either way put-if-absent and nothing left over."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from casdb.checkouts.linking import Linker
from casdb.core.errors import NotFound


@pytest.fixture(params=["unnamed", "named"])
def linker(request, tmp_path):
    def make(writable: bool = False) -> Linker:
        tmp = tmp_path / "tmp"
        tmp.mkdir(exist_ok=True)
        out = Linker("copy", tmp_dir=tmp, writable=writable)
        if request.param == "named":
            out._anonymous = False  # a file system without O_TMPFILE
        return out
    return make


def _source(tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(os.urandom(300_000))
    return src


def test_a_copy_holds_the_bytes_and_leaves_no_temporary_file(linker, tmp_path):
    src = _source(tmp_path)
    (tmp_path / "dest").mkdir()
    assert linker().place(src, tmp_path / "dest" / "a.wav") == "copy"
    assert (tmp_path / "dest" / "a.wav").read_bytes() == src.read_bytes()
    assert not os.path.samefile(src, tmp_path / "dest" / "a.wav")
    assert os.listdir(tmp_path / "tmp") == [] and os.listdir(tmp_path / "dest") == ["a.wav"]
    assert stat.S_IMODE(os.stat(tmp_path / "dest" / "a.wav").st_mode) == 0o444


def test_a_writable_copy_is_writable(linker, tmp_path):
    src = _source(tmp_path)
    linker(writable=True).place(src, tmp_path / "a.wav")
    assert os.stat(tmp_path / "a.wav").st_mode & stat.S_IWUSR


def test_a_copy_never_replaces_a_file(linker, tmp_path):
    src = _source(tmp_path)
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "a.wav").write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        linker().place(src, tmp_path / "dest" / "a.wav")
    assert (tmp_path / "dest" / "a.wav").read_bytes() == b"mine"
    assert os.listdir(tmp_path / "tmp") == [] and os.listdir(tmp_path / "dest") == ["a.wav"]


def test_a_missing_source_is_not_found_and_places_nothing(linker, tmp_path):
    (tmp_path / "dest").mkdir()
    with pytest.raises(NotFound, match="missing"):
        linker().place(tmp_path / "gone", tmp_path / "dest" / "a.wav")
    assert os.listdir(tmp_path / "dest") == [] and os.listdir(tmp_path / "tmp") == []


def test_the_unnamed_file_is_used_where_the_kernel_has_it(tmp_path):
    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE here")
    out = Linker("copy", tmp_dir=tmp_path)
    out.place(_source(tmp_path), tmp_path / "a.wav")
    assert out._anonymous  # ext4 and tmpfs have it: the fast path ran and stayed on


@pytest.mark.parametrize("code", [errno.ENOENT, errno.EPERM, errno.EACCES])
def test_a_proc_that_cannot_link_falls_back_to_a_named_file(tmp_path, monkeypatch, code):
    """``/proc`` of another PID namespace, or a policy against linking through it: the copy is
    made through a named temporary file instead, and so are the next ones."""
    real_link = os.link

    def link(src, dst, **kwargs):
        if str(src).startswith("/proc/self/fd/"):
            raise OSError(code, os.strerror(code))
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", link)
    (tmp_path / "tmp").mkdir()
    out = Linker("copy", tmp_dir=tmp_path / "tmp")
    src = _source(tmp_path)
    assert out.place(src, tmp_path / "a.wav") == "copy"
    assert (tmp_path / "a.wav").read_bytes() == src.read_bytes()
    assert not out._anonymous and os.listdir(tmp_path / "tmp") == []
