"""The config file (casdb.core.config), the repository search list (casdb.api.search), the shared
read-only cache, and backends registered through entry points (casdb.store.backends.registry)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import casdb
from casdb.api import Repository, location, open_repository, search_datasets
from casdb.checkouts.layout import cache_root, read_state
from casdb.core.config import Config, config_path
from casdb.core.errors import IntegrityError, InvalidInput, NotFound
from casdb.store.backends.registry import open_backend
from casdb.testing.cli import run_casdb
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset

PLUGIN = Path(__file__).parent / "plugin_pkg"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No setting from the machine running the tests leaks in."""
    for key in ("CASDB_REPO", "CASDB_CACHE", "CASDB_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def write_config(tmp_path: Path, monkeypatch, text: str) -> Path:
    path = tmp_path / "casdb.yaml"
    path.write_text(text)
    monkeypatch.setenv("CASDB_CONFIG", str(path))
    return path


def publish(path: Path, tmp_path: Path, dataset: str, versions: list[str]) -> Repository:
    repo = Repository(path) if (path / "config").exists() else Repository.init(path)
    for i, version in enumerate(versions):
        src = make_dataset(tmp_path / f"src-{path.name}-{dataset}-{version}", files=2 + i,
                           duration=0.05, seed=i)
        repo.commit(src, dataset=dataset, version=version)
    return repo


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``root``: mtime (ns) and content hash."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns,
                                       hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- precedence: argument > environment > config file > built-in default -----------------------

def test_repository_precedence(tmp_path, monkeypatch):
    assert str(location(None)) == "~/.casdb/repo"  # no file: the built-in default
    write_config(tmp_path, monkeypatch, f"repository: {tmp_path / 'from-file'}\n")
    assert str(location(None)) == str(tmp_path / "from-file")
    monkeypatch.setenv("CASDB_REPO", str(tmp_path / "from-env"))
    assert str(location(None)) == str(tmp_path / "from-env")
    assert str(location(tmp_path / "argument")) == str(tmp_path / "argument")
    # and a real operation follows it: the repository the file names is the one opened
    monkeypatch.delenv("CASDB_REPO")
    Repository.init(tmp_path / "from-file")
    assert open_repository().path == tmp_path / "from-file"


def test_cache_root_precedence(tmp_path, monkeypatch):
    assert cache_root() == tmp_path / "xdg-cache" / "casdb"
    write_config(tmp_path, monkeypatch, "cache_root: ./relative-cache\n")
    assert cache_root() == tmp_path / "relative-cache"  # relative to the config file's folder
    monkeypatch.setenv("CASDB_CACHE", str(tmp_path / "env-cache"))
    assert cache_root() == tmp_path / "env-cache"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("CASDB_CACHE")
    repo = publish(tmp_path / "repo", tmp_path, "d", ["1.0.0"])
    ds = casdb.load("d", repo=repo, only_metadata=True)  # no cache_root: the file's
    assert ds.root == tmp_path / "relative-cache" / "d" / "1.0.0" / "original"


def test_default_location_follows_xdg_config_home(tmp_path, monkeypatch):
    path = tmp_path / "xdg-config" / "casdb" / "config.yaml"
    assert config_path() == path
    path.parent.mkdir(parents=True)
    path.write_text("repository: ~/elsewhere\n")
    assert Config.load().repository == os.path.expanduser("~/elsewhere")
    assert Config.load().source == path


def test_cli_repo_default_comes_from_the_config(tmp_path, monkeypatch):
    publish(tmp_path / "repo", tmp_path, "emo", ["1.0.0"])
    write_config(tmp_path, monkeypatch, f"repository: {tmp_path / 'repo'}\n")
    out = run_casdb("ls")
    assert out.returncode == 0, out.stderr
    assert "emo" in out.stdout
    monkeypatch.setenv("CASDB_REPO", str(tmp_path / "none"))  # the environment wins
    assert run_casdb("ls").returncode == 4


# -- the ordered list of repositories ------------------------------------------------------------

def test_repositories_are_searched_in_order(tmp_path, monkeypatch):
    first = publish(tmp_path / "first", tmp_path, "shared", ["1.0.0"])
    second = publish(tmp_path / "second", tmp_path, "shared", ["2.0.0"])
    publish(second.path, tmp_path, "only-second", ["0.1"])
    write_config(tmp_path, monkeypatch, f"repositories:\n  - {first.path}\n  - {second.path}\n"
                                        f"cache_root: {tmp_path / 'cache'}\n")
    assert casdb.load("shared", only_metadata=True).version == "1.0.0"  # the first wins
    assert casdb.load("only-second", only_metadata=True).version == "0.1"
    out = run_casdb("checkout", "only-second@0.1", "--only-metadata")  # the CLI searches too
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == str(tmp_path / "cache" / "only-second" / "0.1" /
                                              "original")
    found = {f.dataset: f.location for f in search_datasets()}
    assert found == {"shared": str(first.path), "only-second": str(second.path)}
    # an explicit repository (argument or environment) is used alone
    assert casdb.load("shared", repo=second.path, only_metadata=True).version == "2.0.0"
    monkeypatch.setenv("CASDB_REPO", str(second.path))
    assert casdb.load("shared", only_metadata=True).version == "2.0.0"
    monkeypatch.delenv("CASDB_REPO")
    with pytest.raises(NotFound, match=r"no dataset 'absent'.*first.*second"):
        casdb.load("absent", only_metadata=True)


def test_an_unknown_repository_in_the_list_is_an_error_naming_it(tmp_path, monkeypatch):
    repo = publish(tmp_path / "repo", tmp_path, "d", ["1.0.0"])
    missing = tmp_path / "no-such-repo"
    write_config(tmp_path, monkeypatch, f"repositories: [{missing}, {repo.path}]\n"
                                        f"cache_root: {tmp_path / 'cache'}\n")
    with pytest.raises(NotFound, match=f"no casdb repository at {missing}"):
        casdb.load("d", only_metadata=True)
    with pytest.raises(NotFound, match=str(missing)):
        search_datasets()
    out = run_casdb("checkout", "d@1.0.0")
    assert out.returncode == 4 and str(missing) in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_an_unreachable_repository_is_skipped_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN))
    repo = publish(tmp_path / "repo", tmp_path, "d", ["1.0.0"])
    write_config(tmp_path, monkeypatch, f"repositories: ['down://lab/casdb', {repo.path}]\n"
                                        f"cache_root: {tmp_path / 'cache'}\n")
    with pytest.warns(UserWarning, match="skipping repository down://lab/casdb.*refused"):
        assert casdb.load("d", only_metadata=True).version == "1.0.0"
    with pytest.warns(UserWarning, match="down://lab/casdb"):
        assert [f.dataset for f in search_datasets()] == ["d"]


# -- the shared read-only cache ------------------------------------------------------------------

def test_a_complete_version_in_the_shared_cache_is_used_and_never_written(tmp_path, monkeypatch):
    repo = publish(tmp_path / "repo", tmp_path, "d", ["1.0.0", "2.0.0"])
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    # the group's maintainer fills it (copies: inodes of its own, as on a group file system)
    casdb.load("d", "1.0.0", repo=repo, cache_root=shared, link="copy")
    casdb.load("d", "2.0.0", repo=repo, cache_root=shared, only_metadata=True)  # partial
    before = snapshot(shared)
    write_config(tmp_path, monkeypatch, f"repository: {repo.path}\ncache_root: {mine}\n"
                                        f"shared_cache_root: {shared}\n")
    # (we run as root, so chmod would not stop a write: mtimes and contents are checked instead)
    ds = casdb.load("d", "1.0.0")
    assert ds.root == shared / "d" / "1.0.0" / "original"
    assert len(ds.files) == 2 and all(Path(f).is_relative_to(shared) for f in ds.files)
    narrow = casdb.load("d", "1.0.0", tables="emotion", only_metadata=True)
    assert narrow.root == ds.root
    assert not (mine / "d" / "1.0.0").exists()
    # only partial in the shared cache: the user's cache serves it
    newer = casdb.load("d", "2.0.0")
    assert newer.root == mine / "d" / "2.0.0" / "original" and len(newer.files) == 3
    assert read_state(newer.root).complete
    assert snapshot(shared) == before
    # the latest version (None) is resolved by the repository, then looked for in the shared cache
    repo.commit(make_dataset(tmp_path / "src3", files=4, duration=0.05, seed=3), dataset="d",
                version="3.0.0")
    casdb.load("d", "3.0.0", repo=repo, cache_root=shared, link="copy")  # the maintainer again
    before = snapshot(shared)
    latest = casdb.load("d")
    assert latest.version == "3.0.0" and latest.root == shared / "d" / "3.0.0" / "original"
    assert not (mine / "d" / "3.0.0").exists()
    assert snapshot(shared) == before
    # another flavour is not in the shared cache: converted into the user's
    flavoured = casdb.load("d", "1.0.0", flavour={"sampling_rate": 8000})
    assert flavoured.root.is_relative_to(mine)
    assert snapshot(shared) == before


def test_a_modified_table_in_the_shared_cache_is_refused(tmp_path, monkeypatch):
    repo = publish(tmp_path / "repo", tmp_path, "d", ["1.0.0"])
    shared = tmp_path / "shared"
    root = casdb.load("d", "1.0.0", repo=repo, cache_root=shared).root
    write_config(tmp_path, monkeypatch, f"repository: {repo.path}\n"
                                        f"cache_root: {tmp_path / 'mine'}\n"
                                        f"shared_cache_root: {shared}\n")
    (root / "db.yaml").write_text((root / "db.yaml").read_text() + "\n# edited\n")
    with pytest.raises(IntegrityError, match="db.yaml was modified"):
        casdb.load("d", "1.0.0")


# -- bad config files ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("repository: [unclosed\n", r"is not valid YAML \(line 2\)"),
    ("- a\n- b\n", "expected a mapping of settings, got list"),
    ("repository: 5\n", "repository must be a non-empty string"),
    ("repository: ''\n", "repository must be a non-empty string"),
    ("repositories: /one/path\n", "repositories must be a list of paths or URLs, got str"),
    ("repositories: [/a, {x: 1}]\n", r"repositories\[1\] must be a non-empty string"),
    ("cache_root: [a]\n", "cache_root must be a non-empty string"),
    ("cache_root: s3://bucket/cache\n", "cache_root must be a local folder"),
    ("shared_cache_root: 3.5\n", "shared_cache_root must be a non-empty string"),
    ("repositorys: [/a]\n", "unknown key 'repositorys'"),
    ("repository: s3://AKIAXYZ:hunter2@s3.example.org/bucket\n", r"repository holds credentials"),
    ("repositories: ['s3://user@host/b']\n", r"repositories\[0\] holds credentials"),
])
def test_a_bad_config_file_is_a_one_line_error_naming_file_and_key(tmp_path, monkeypatch, text,
                                                                   message):
    path = write_config(tmp_path, monkeypatch, text)
    with pytest.raises(InvalidInput, match=message) as caught:
        Config.load()
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value) and "AKIAXYZ" not in str(caught.value)
    out = run_casdb("ls")
    assert out.returncode == 2 and str(path) in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert run_casdb("--help").returncode == 0  # help reads no config


def test_config_file_edge_cases(tmp_path, monkeypatch):
    empty = write_config(tmp_path, monkeypatch, "# nothing set\n")
    assert Config.load() == Config(source=empty)
    monkeypatch.setenv("CASDB_CONFIG", str(tmp_path / "typo.yaml"))
    with pytest.raises(InvalidInput, match="CASDB_CONFIG names .*typo.yaml, which does not exist"):
        Config.load()
    monkeypatch.setenv("CASDB_CONFIG", str(tmp_path))  # a folder, not a file
    with pytest.raises(InvalidInput, match=f"config file {tmp_path} is unreadable"):
        Config.load()
    big = write_config(tmp_path, monkeypatch, "# " + "x" * (1 << 20) + "\n")
    with pytest.raises(InvalidInput, match=f"{big} is larger than"):
        Config.load()
    write_config(tmp_path, monkeypatch, "repository: !!python/object:os.system ls\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):  # safe loading: no objects
        Config.load()


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_config_bytes_parse_or_fail_cleanly(data):
    try:
        config = Config.parse(data, Path("/fuzz.yaml"))
    except InvalidInput as exc:
        assert "/fuzz.yaml" in str(exc)
    else:
        assert isinstance(config.repositories, tuple)


# -- plug-in backends through entry points --------------------------------------------------------

def test_a_plugin_package_adds_a_url_scheme(tmp_path, monkeypatch):
    with pytest.raises(InvalidInput, match="unsupported repository URL 'mem://lab'"):
        open_backend("mem://lab")  # not installed yet
    monkeypatch.syspath_prepend(str(PLUGIN))  # the package's .dist-info declares casdb.backends
    import casdb_test_backend  # the plug-in's module, on the path now

    from casdb.testing.memory import MemoryBackend

    backend = open_backend("mem://lab")
    assert isinstance(backend, MemoryBackend) and casdb_test_backend.OPENED[-1] == "mem://lab"
    # a repository pushes to it, and load reads from it, like any remote
    repo = publish(tmp_path / "repo", tmp_path, "d", ["1.0.0"])
    repo.remote_add("lab", "mem://lab")
    result = repo.push("lab")
    assert result.blobs == 2
    assert any(k.startswith("refs/") for k in casdb_test_backend.STORES["mem://lab"].data)
    ds = casdb.load("d", "1.0.0", repo="mem://lab", cache_root=tmp_path / "cache")
    assert len(ds.files) == 2 and ds.root.is_relative_to(tmp_path / "cache")
    write_config(tmp_path, monkeypatch, "repositories: ['mem://lab']\n")
    assert [(f.dataset, f.location) for f in search_datasets()] == [("d", "mem://lab")]


def test_unknown_and_broken_plugin_schemes_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN))
    with pytest.raises(InvalidInput, match="gs://.*plug-in schemes installed: .*down, mem"):
        open_backend("gs://bucket/casdb")
    with pytest.raises(InvalidInput, match="broken backend .* cannot be imported"):
        open_backend("broken://x")
    with pytest.raises(InvalidInput, match="unsupported repository URL 'gs://"):
        casdb.load("d", repo="gs://bucket/casdb", cache_root=tmp_path / "cache")


values = st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=12),
                   st.sampled_from(["/a/b", "rel/dir", "~/x", "s3://b/p", "s3://k:s@h/b",
                                    "file:///f", "mem://m"]),
                   st.lists(st.sampled_from(["/r1", "s3://b/r2", 3, "", "s3://u@h/b"]),
                            max_size=3))


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(st.sampled_from(["repository", "cache_root", "repositories",
                                        "shared_cache_root", "cache", "repos"]), values))
def test_any_settings_are_taken_with_their_types_or_refused_naming_the_key(doc):
    import yaml

    try:
        config = Config.parse(yaml.safe_dump(doc).encode(), Path("/etc/casdb.yaml"))
    except InvalidInput as exc:
        message = str(exc)
        assert message.startswith("config file /etc/casdb.yaml: ") and "\n" not in message
        assert any(key in message for key in doc)  # names the key at fault
        assert ":s@" not in message and "k:s" not in message  # never echoes a secret
        return
    assert set(doc) <= {"repository", "cache_root", "repositories", "shared_cache_root"}
    for key in ("repository", "cache_root", "shared_cache_root"):
        value = getattr(config, key)
        assert value is None or isinstance(value, str)
        if value is not None and "://" in value:  # a URL kept: never one with user info
            assert "@" not in value.split("://", 1)[1].partition("/")[0]
    assert isinstance(config.repositories, tuple)
    assert len(config.repositories) == len(doc.get("repositories") or [])
    assert all(r.startswith(("/", "s3://", "mem://")) for r in config.repositories)
