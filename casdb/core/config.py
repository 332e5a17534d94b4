"""The user's configuration file: default repository, cache roots, repositories to search.

The file is ``$CASDB_CONFIG`` if set, else ``$XDG_CONFIG_HOME/casdb/config.yaml``, else
``~/.config/casdb/config.yaml``; no file means the built-in defaults. It is read once per call
into a frozen :class:`Config` that is passed on explicitly (nothing module-level to patch).
Every setting is chosen in this order (docs/config.md):

    explicit argument  >  environment (CASDB_REPO, CASDB_CACHE)  >  config file  >  built-in

Keys (all optional; any other key is an error, so a typo never goes unnoticed):

    repository: ~/corpora/repo            # the default repository (a path or a URL)
    cache_root: /scratch/casdb            # the checkout cache
    repositories:                         # searched in order by load/info/ls: first one wins
      - /shared/lab/casdb
      - s3://lab-bucket/casdb
    shared_cache_root: /shared/lab/cache  # a group's read-only cache, looked in first
    engine: dask://scheduler:8786         # where heavy loops run (CASDB_ENGINE; docs/scale.md)

``~`` is expanded; a relative path is relative to the folder of the config file. Credentials
never go in the file: a URL with user info (``s3://key:secret@host/...``) is refused; use the
environment or the usual cloud configuration (``AWS_*``, ``~/.aws``).

Example:
    >>> cfg = Config.parse(b"repository: /data/repo\\nrepositories: [/a, s3://b/c]\\n")
    >>> cfg.repository, cfg.repositories
    ('/data/repo', ('/a', 's3://b/c'))
    >>> Config().repository is None
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from casdb.core.errors import InvalidInput

CONFIG_ENV = "CASDB_CONFIG"
REPO_ENV = "CASDB_REPO"
CACHE_ENV = "CASDB_CACHE"
MAX_BYTES = 1 << 20
"""A config file is a few lines; anything bigger is not one (and is not parsed)."""
KEYS = ("repository", "cache_root", "repositories", "shared_cache_root", "engine")


@dataclass(frozen=True)
class Config:
    """The settings of one config file (None / empty: not set there)."""

    repository: str | None = None
    cache_root: str | None = None
    repositories: tuple[str, ...] = ()
    shared_cache_root: str | None = None
    engine: str | None = None
    """Where heavy loops run: ``threads`` or ``dask://HOST:PORT`` (:mod:`casdb.core.engine`)."""
    source: Path | None = None
    """The file read (None: no file)."""

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Config:
        """The configuration in effect: the file :func:`config_path` names, if it exists.

        ``$CASDB_CONFIG`` naming a file that does not exist is an error (a typo there would
        otherwise silently fall back to the defaults); the default location may be absent.
        """
        env = os.environ if environ is None else environ
        path = config_path(env)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            if env.get(CONFIG_ENV):
                raise InvalidInput(f"{CONFIG_ENV} names {path}, which does not exist") from None
            return cls()
        except OSError as exc:
            if not env.get(CONFIG_ENV) and not _visible(path):
                # a default location we may not even look into (another user's $HOME, a
                # service with dropped privileges): there is no config file for us
                return cls()
            raise InvalidInput(f"config file {path} is unreadable: {exc.strerror or exc}") from exc
        if len(data) > MAX_BYTES:
            raise InvalidInput(f"config file {path} is larger than {MAX_BYTES} bytes")
        return cls.parse(data, path)

    @classmethod
    def parse(cls, data: bytes, source: Path | None = None) -> Config:
        """The settings in ``data`` (YAML); ``InvalidInput`` naming the file and the key."""
        import yaml  # only when a config file exists: `casdb --help` stays instant

        where = f"config file {source}" if source is not None else "config"
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise InvalidInput(f"{where} is not valid YAML{at}: "
                               f"{getattr(exc, 'problem', None) or exc}") from None
        if doc is None:
            return cls(source=source)
        if not isinstance(doc, dict):
            raise InvalidInput(f"{where}: expected a mapping of settings, got "
                               f"{type(doc).__name__}")
        unknown = sorted(str(k) for k in doc if k not in KEYS)
        if unknown:
            raise InvalidInput(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        base = source.parent if source is not None else None

        def text(key: str, value: object) -> str:
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"{where}: {key} must be a non-empty string (a path or URL), "
                                   f"got {type(value).__name__}")
            return _location(value, base, where, key)

        repos = doc.get("repositories")
        if repos is None:
            repos = []
        if not isinstance(repos, list):
            raise InvalidInput(f"{where}: repositories must be a list of paths or URLs, got "
                               f"{type(repos).__name__}")
        listed = tuple(text(f"repositories[{i}]", r) for i, r in enumerate(repos))
        one = {k: text(k, doc[k]) if doc.get(k) is not None else None
               for k in ("repository", "cache_root", "shared_cache_root")}
        for key in ("cache_root", "shared_cache_root"):
            if one[key] is not None and _is_url(one[key]):
                raise InvalidInput(f"{where}: {key} must be a local folder, not a URL")
        engine = doc.get("engine")
        if engine is not None:
            from casdb.core.engine import parse_engine

            if not isinstance(engine, str):
                raise InvalidInput(f"{where}: engine must be threads or dask://HOST:PORT, got "
                                   f"{type(engine).__name__}")
            try:
                parse_engine(engine)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc}") from None
        return cls(repository=one["repository"], cache_root=one["cache_root"],
                   repositories=listed, shared_cache_root=one["shared_cache_root"],
                   engine=engine, source=source)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file: ``$CASDB_CONFIG``, else ``$XDG_CONFIG_HOME/casdb/config.yaml``, else
    ``~/.config/casdb/config.yaml``.

    Example:
        >>> config_path({"XDG_CONFIG_HOME": "/etc/xdg"}).as_posix()
        '/etc/xdg/casdb/config.yaml'
    """
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser().absolute()
    base = env.get("XDG_CONFIG_HOME") or os.path.join("~", ".config")
    return Path(base, "casdb", "config.yaml").expanduser().absolute()


def _visible(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _is_url(value: str) -> bool:
    return "://" in value and not value.startswith("file://")


def _location(value: str, base: Path | None, where: str, key: str) -> str:
    """A path (``~`` expanded, relative to the file's folder) or a URL without credentials."""
    value = value.strip()
    if "://" in value:
        scheme, rest = value.split("://", 1)
        if "@" in rest.partition("/")[0]:
            host = rest.partition("/")[0].rsplit("@", 1)[1]
            raise InvalidInput(f"{where}: {key} holds credentials ({scheme}://***@{host}/...): "
                               "keep them out of the file (environment variables or the cloud "
                               "tool's own configuration)")
        if scheme.lower() != "file":
            return value
        value = rest
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path)
