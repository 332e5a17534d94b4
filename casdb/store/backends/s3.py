"""S3-compatible object storage (AWS S3, MinIO, Ceph, SeaweedFS, ...) through obstore.

``s3://bucket/prefix``. Endpoint, region and credentials come from the usual AWS environment
variables (``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``),
and, when boto3 is installed and the environment has no keys, from the AWS config files
(``~/.aws/credentials``, profiles). Credentials never appear in URLs (a URL with user info is
refused), messages or the repository.

- ``put(exclusive=True)`` is a conditional PUT (``If-None-Match: *``); ``swap`` is a
  conditional PUT on the ETag read before (``If-Match``), so two writers cannot both win.
- Large files go up in multipart uploads (parts of 8 MiB, several at once) and come down
  streamed.
- Every request has a timeout (connect 5 s; 60 s without progress) and is retried with
  exponential backoff on transient errors, so a stalled transfer fails with a clear
  ``BackendError`` instead of hanging.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from casdb.core.errors import BackendError, Conflict, InvalidInput, NotFound, storage_error
from casdb.store.backends.base import check_key, redact

PART = 8 << 20
TIMEOUT_ENV = "CASDB_S3_TIMEOUT"


def _timeouts() -> dict:
    """Connect in 5 s; fail a request with no data for 60 s (``$CASDB_S3_TIMEOUT``)."""
    seconds = float(os.environ.get(TIMEOUT_ENV) or 60)
    return {"connect_timeout": "5s", "timeout": f"{max(seconds, 1) * 4:.0f}s",
            "read_timeout": f"{seconds:g}s"}



def _retries() -> dict:
    from datetime import timedelta

    seconds = float(os.environ.get(TIMEOUT_ENV) or 60)
    return {"max_retries": 4, "retry_timeout": timedelta(seconds=seconds),
            "backoff": {"init_backoff": timedelta(milliseconds=100),
                        "max_backoff": timedelta(seconds=5), "base": 2}}


class S3Backend:
    """Keys under ``prefix`` in an S3 bucket."""


    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None,
                 region: str | None = None, **config: str) -> None:
        from obstore.store import S3Store

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
            "AWS_ENDPOINT_URL")
        region = region or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION") or "us-east-1"
        options = _timeouts()
        settings: dict = {"region": region, "conditional_put": "etag", **config}
        if endpoint:
            settings["endpoint"] = endpoint
            options["allow_http"] = endpoint.startswith("http://")
        provider = None
        if not os.environ.get("AWS_ACCESS_KEY_ID") and "access_key_id" not in config:
            provider = _boto3_credentials()
        try:
            self.store = S3Store(bucket, prefix=self.prefix or None, client_options=options,
                                 retry_config=_retries(), credential_provider=provider, **settings)
        except Exception as exc:  # noqa: BLE001 (obstore raises plain errors on bad config)
            raise BackendError(f"{self.url}: cannot configure S3: {exc}") from exc

    @classmethod
    def from_url(cls, url: str) -> S3Backend:
        rest = url.split("://", 1)[1]
        host, _, prefix = rest.partition("/")
        if "@" in host or ":" in host:
            raise InvalidInput(f"{redact(url)}: put credentials in the environment or the AWS "
                               "config files, never in the URL")
        if not host:
            raise InvalidInput(f"{url!r}: no bucket (use s3://bucket/prefix)")
        return cls(host, prefix)

    def __repr__(self) -> str:
        return f"S3Backend({self.url!r})"

    def _error(self, exc: Exception, key: str, action: str) -> Exception:
        """An obstore error as casdb's (``NotFound``, ``Conflict`` or ``BackendError``)."""
        from obstore import exceptions as e

        text = str(exc).split("\n", 1)[0]
        where = f"{self.url}/{key}"
        if "NoSuchBucket" in str(exc):
            return BackendError(f"{self.url}: the bucket {self.bucket!r} does not exist")
        if isinstance(exc, FileNotFoundError | e.NotFoundError):
            return NotFound(f"{where} is missing on the remote")
        if isinstance(exc, e.PreconditionError | e.AlreadyExistsError):
            return Conflict(f"{where} changed on the remote meanwhile")
        if isinstance(exc, e.PermissionDeniedError | e.UnauthenticatedError):
            return BackendError(f"{self.url}: access denied while trying to {action} {key} "
                                "(check the credentials)")
        return BackendError(f"{self.url}: cannot {action} {key}: {_reason(str(exc), text)}")

    def get(self, key: str) -> bytes:
        check_key(key)
        import obstore as obs

        try:
            return bytes(obs.get(self.store, key).bytes())
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, key, "read") from exc

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        check_key(key)
        import obstore as obs

        # obstore refuses an empty range (an empty blob in a pack): those are b"" without asking.
        asked = [(s, e) for s, e in ranges if e > s]
        if not asked:
            if ranges and not self.exists(key):
                raise NotFound(f"{self.url}/{key} is missing on the remote")
            return [b""] * len(ranges)
        try:
            parts = iter(obs.get_ranges(self.store, key, starts=[s for s, _ in asked],
                                        ends=[e for _, e in asked]))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, key, "read") from exc
        return [bytes(next(parts)) if e > s else b"" for s, e in ranges]

    def get_file(self, key: str, path: Path) -> None:
        check_key(key)
        import obstore as obs

        try:
            result = obs.get(self.store, key)
            with open(path, "xb") as f:
                for chunk in result.stream(min_chunk_size=PART):
                    f.write(chunk)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or type(exc).__module__.startswith("obstore"):
                raise self._error(exc, key, "read") from exc
            raise storage_error(exc, str(path)) from exc
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, key, "read") from exc

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> bool:
        return self._put(key, data, "create" if exclusive else "overwrite",
                         use_multipart=len(data) > PART)

    def put_file(self, key: str, path: Path) -> bool:
        with open(path, "rb") as f:
            return self._put(key, f, "create", chunk_size=PART, max_concurrency=4)

    def _put(self, key: str, payload, mode: str, **options) -> bool:
        """One PUT; False when ``mode="create"`` and the key exists."""
        check_key(key)
        import obstore as obs
        from obstore import exceptions as e

        try:
            obs.put(self.store, key, payload, mode=mode, **options)
        except Exception as exc:  # noqa: BLE001
            if mode == "create" and isinstance(exc, e.AlreadyExistsError | e.PreconditionError):
                return False
            raise self._error(exc, key, "write") from exc
        return True

    def swap(self, key: str, expected: bytes | None, new: bytes) -> None:
        check_key(key)
        import obstore as obs

        if expected is None:
            if not self.put(key, new, exclusive=True):
                raise Conflict(f"{self.url}/{key} was created on the remote meanwhile")
            return
        try:
            result = obs.get(self.store, key)
            current, etag = bytes(result.bytes()), result.meta["e_tag"]
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, key, "read")
            if isinstance(err, NotFound):
                raise Conflict(f"{self.url}/{key} was removed on the remote meanwhile") from exc
            raise err from exc
        if current != expected:
            raise Conflict(f"{self.url}/{key} changed on the remote meanwhile")
        try:
            obs.put(self.store, key, new, mode={"e_tag": etag})
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, key, "update") from exc

    def exists(self, key: str) -> bool:
        check_key(key)
        import obstore as obs

        try:
            obs.head(self.store, key)
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, key, "check")
            if isinstance(err, NotFound):
                return False
            raise err from exc
        return True

    def modified(self, key: str) -> float:
        check_key(key)
        import obstore as obs

        try:
            return obs.head(self.store, key)["last_modified"].timestamp()
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, key, "check")
            if isinstance(err, NotFound):
                return 0.0
            raise err from exc

    def list(self, prefix: str) -> Iterator[str]:
        import obstore as obs

        try:
            for chunk in obs.list(self.store, prefix=prefix.rstrip("/") or None, chunk_size=1000):
                for meta in chunk:
                    yield meta["path"]
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, prefix, "list") from exc

    def sizes(self, prefix: str) -> dict[str, int]:
        """Key -> size of every key under ``prefix`` (one listing)."""
        import obstore as obs

        try:
            return {m["path"]: m["size"] for chunk in obs.list(self.store, prefix=prefix.rstrip("/"))
                    for m in chunk}
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, prefix, "list") from exc

    def delete(self, key: str) -> None:
        check_key(key)
        import obstore as obs

        try:
            obs.delete(self.store, key)
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, key, "delete")
            if not isinstance(err, NotFound):
                raise err from exc


def _boto3_credentials():
    """Credentials from the AWS config files through boto3, when it is installed."""
    try:
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        return None
    session = boto3.Session()
    if session.get_credentials() is None:
        return None
    return Boto3CredentialProvider(session)


def _reason(full: str, text: str) -> str:
    """Why a request failed, in a few words (no request details: they may carry signatures)."""
    import re

    if "kind: Timeout" in full or "TimedOut" in full:
        return f"the request timed out (after retries; ${TIMEOUT_ENV} sets the timeout)"
    if "kind: Connect" in full or "Connection refused" in full or "ConnectError" in full:
        return "cannot connect to the endpoint (is the server up? check AWS_ENDPOINT_URL)"
    status = re.search(r"status code: (\d{3})", full)
    if status:
        return f"the server answered {status.group(1)}"
    return _short(text)


def _short(text: str) -> str:
    """An error message without request details that may carry signatures."""
    for cut in (" Error performing", " - Server returned"):
        if cut in text:
            text = text.split(cut, 1)[0]
    return text[:200]
