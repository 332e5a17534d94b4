"""Validation of paths and names read from stored or fetched data: one rule, applied where they
are decoded, so nothing downstream (placement, purge, gc) ever sees a path that could leave its
folder.

A valid relative path is POSIX, relative and normalised:

- not empty, not absolute (no leading ``/``), no drive letter (``C:``) and no backslash;
- no empty, ``.`` or ``..`` component (so no ``//``, no trailing ``/``);
- no NUL or other control character (U+0000 to U+001F, U+007F);
- valid Unicode (no lone surrogates), each component at most 255 bytes of UTF-8 and the whole
  path at most 4096 bytes (the limits of Linux file systems).

A *name* (one tree entry, one table id as a file name) is a valid path with no ``/``. A path that
breaks a rule raises :class:`~casdb.core.errors.IntegrityError`, one line naming the path and where
it came from: stored data that is wrong is an integrity problem, whoever crafted it.

Example:
    >>> check_relpath("audio/a.wav", "media index")
    'audio/a.wav'
    >>> check_relpath("../x", "media index")
    Traceback (most recent call last):
    ...
    casdb.core.errors.IntegrityError: media index: unsafe path '../x' (a '..' component)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from casdb.core.errors import IntegrityError

if TYPE_CHECKING:
    import pyarrow as pa

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Any path this matches breaks a rule (checked per value to say which one); lengths apart.
_SUSPECT = r"^$|^/|/$|//|\\|(^|/)\.\.?(/|$)|[\x00-\x1f\x7f]|^[A-Za-z]:"


def _problem(text: Any, single: bool) -> str | None:
    """Why ``text`` is not a safe relative path (a name if ``single``); None when it is."""
    if not isinstance(text, str):
        return f"not a string but {type(text).__name__}"
    if not text:
        return "empty"
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode"
    if len(encoded) > MAX_PATH_BYTES:
        return f"longer than {MAX_PATH_BYTES} bytes"
    if _CONTROL.search(text):
        return "a NUL or control character"
    if "\\" in text:
        return "a backslash"
    if _DRIVE.match(text):
        return "a drive letter"
    if text.startswith("/"):
        return "absolute"
    if single and "/" in text:
        return "a '/' in a name"
    for part in text.split("/"):
        if part == "":
            return "an empty component"
        if part in (".", ".."):
            return f"a {part!r} component"
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return f"a component longer than {MAX_NAME_BYTES} bytes"
    return None


def _shown(text: Any) -> str:
    shown = repr(text)
    return shown if len(shown) <= 120 else shown[:117] + "..."


def check_relpath(text: Any, what: str) -> str:
    """Return ``text`` if it is a safe relative path, else raise ``IntegrityError``.

    ``what`` says where the path came from (``"media index of emodb 1.0.0"``).
    """
    problem = _problem(text, single=False)
    if problem is not None:
        raise IntegrityError(f"{what}: unsafe path {_shown(text)} ({problem})")
    return text


def check_name(text: Any, what: str) -> str:
    """Return ``text`` if it is a safe single path component, else raise ``IntegrityError``.

    Example:
        >>> check_name("a.wav", "tree")
        'a.wav'
    """
    problem = _problem(text, single=True)
    if problem is not None:
        raise IntegrityError(f"{what}: unsafe name {_shown(text)} ({problem})")
    return text


def is_safe_relpath(text: Any) -> bool:
    """Whether ``text`` is a safe relative path (no exception)."""
    return _problem(text, single=False) is None


def check_relpath_array(array: pa.Array | pa.ChunkedArray, what: str) -> None:
    """Check every value of an Arrow string column (a table's ``file`` level, a media index).

    Vectorised: one regular expression and one length test over the column find the few values
    that could break a rule; only those are checked one by one (100k paths cost milliseconds).
    Nulls are refused too: a file has a path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
            if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                return check_relpath_array(array, what)
        raise IntegrityError(f"{what}: paths are {array.type}, not strings")
    if array.null_count:
        raise IntegrityError(f"{what}: a file without a path (null)")
    suspect = pc.match_substring_regex(array, _SUSPECT)
    if pc.any(suspect).as_py():
        for value in pc.filter(array, suspect).to_pylist():
            check_relpath(value, what)
    # A component can only exceed 255 bytes in a path longer than 255 bytes. (The maximum, not
    # a comparison with 255: a Python scalar handed to pyarrow makes it import pandas, 0.3 s.)
    longest = pc.max(pc.binary_length(array)).as_py()
    if longest is not None and longest > MAX_NAME_BYTES:
        for value in array.to_pylist():
            if len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
                check_relpath(value, what)


_SUSPECT_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\\]")
_DRIVE_LINE = re.compile(r"\n[A-Za-z]:")
_BAD_PARTS = ("\n\n", "\n/", "/\n", "//", "/./", "/../", "\n./", "\n../", "/.\n", "/..\n",
              "\n.\n", "\n..\n")
"""Substrings of ``"\n" + "\n".join(paths) + "\n"`` that only a bad path gives: empty,
absolute, a trailing slash, an empty, ``.`` or ``..`` component."""


def check_relpaths(values: Any, what: str) -> list[str]:
    """Check a list of paths (a cache folder's state, a source listing); return it.

    Pure Python, no pyarrow (a commit must start hashing at once): substring tests over the
    joined list and one pass over the lengths find the values that could break a rule (100k
    paths cost about 50 ms); only those are checked one by one.
    """
    if not isinstance(values, list):
        raise IntegrityError(f"{what}: paths are a {type(values).__name__}, not a list")
    if not all(type(v) is str for v in values):
        for v in values:
            check_relpath(v, what)
    joined = "\n" + "\n".join(values) + "\n"
    suspect = (joined.count("\n") != len(values) + 1  # a value holds a newline
               or any(part in joined for part in _BAD_PARTS)
               or bool(_SUSPECT_CHARS.search(joined))
               or ":" in joined and bool(_DRIVE_LINE.search(joined)))
    if not suspect and not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a name that was not UTF-8)
            suspect = True
    # A component or path over its limit in bytes has at least a quarter as many characters.
    long = [v for v in values if len(v) > MAX_NAME_BYTES // 4] if values else []
    for v in values if suspect else long:
        check_relpath(v, what)
    return values
