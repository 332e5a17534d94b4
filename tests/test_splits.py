"""Benchmark splits: the protocol functions (property tests) and casdb.split on real versions."""

from __future__ import annotations

import audformat
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import casdb
from casdb.core.errors import AlreadyExists, InvalidInput, NotFound
from casdb.research import splits as P
from casdb.testing.emocorpus import make_corpus, store_state

# -- the pure protocol functions ------------------------------------------------------------------

rows_st = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 4)), min_size=1, max_size=120)


def arrays(rows):
    speakers = np.array([f"s{s}" for s, _ in rows])
    labels = np.array([f"l{lab}" for _, lab in rows])
    return speakers, labels


def check_speaker_independent(a: P.Assignment, speakers: np.ndarray) -> None:
    """No speaker in two partitions of a fold; every row in a partition of every fold."""
    assert (a.folds != P.LEFT_OUT).all()
    for fold in a.folds:
        for s in np.unique(speakers):
            assert len(np.unique(fold[speakers == s])) == 1, (s, fold)


@given(rows_st)
def test_loso_tests_each_speaker_once_alone(rows):
    speakers, _ = arrays(rows)
    n = len(np.unique(speakers))
    if n < 2:
        with pytest.raises(InvalidInput, match="at least 2 speakers"):
            P.loso(speakers)
        return
    a = P.loso(speakers)
    check_speaker_independent(a, speakers)
    assert a.folds.shape == (n, len(rows))
    tested = [tuple(np.unique(speakers[f == P.TEST])) for f in a.folds]
    assert sorted(t[0] for t in tested) == sorted(np.unique(speakers)) and all(len(t) == 1 for t in tested)


@given(rows_st, st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_kfold_tests_each_speaker_in_exactly_one_fold(rows, k, seed):
    speakers, _ = arrays(rows)
    n = len(np.unique(speakers))
    if k < 2 or k > n:
        with pytest.raises(InvalidInput):
            P.kfold(speakers, k, seed)
        return
    a = P.kfold(speakers, k, seed)
    check_speaker_independent(a, speakers)
    assert ((a.folds == P.TEST).sum(axis=0) == 1).all()  # every row tested once
    assert all((f == P.TEST).any() for f in a.folds)
    # merged folds are near-equal: within the largest speaker's rows of each other
    sizes = (a.folds == P.TEST).sum(axis=1)
    assert sizes.max() - sizes.min() <= np.unique(speakers, return_counts=True)[1].max()
    assert (P.kfold(speakers, k, seed).folds == a.folds).all()  # deterministic


ratios_st = st.tuples(st.integers(1, 98), st.integers(0, 98)).filter(lambda t: sum(t) < 100).map(
    lambda t: (t[0], t[1], 100 - t[0] - t[1]))


@given(rows_st, ratios_st, st.integers(0, 1000))
def test_serab_is_speaker_independent_and_fills_every_partition(rows, ratios, seed):
    speakers, _ = arrays(rows)
    wanted = [p for p in range(3) if ratios[p] > 0]
    if len(np.unique(speakers)) < len(wanted):
        with pytest.raises(InvalidInput, match="speakers"):
            P.serab(speakers, ratios, seed)
        return
    a = P.serab(speakers, ratios, seed)
    check_speaker_independent(a, speakers)
    assert set(np.unique(a.folds)) == set(wanted)
    assert (P.serab(speakers, ratios, seed).folds == a.folds).all()


@given(rows_st, st.sampled_from([0.2, 0.25, 0.5]), st.integers(0, 1000))
def test_speaker_dependent_test_share_per_label(rows, share, seed):
    _, labels = arrays(rows)
    a = P.speaker_dependent(labels, share, seed)
    assert a.folds.shape == (1, len(rows)) and (a.folds != P.LEFT_OUT).all()
    for lab in np.unique(labels):
        n = (labels == lab).sum()
        test = (a.folds[0][labels == lab] == P.TEST).sum()
        assert abs(test - share * n) <= 1  # rounding, and at least one row on each side
        if n >= 2:
            assert 1 <= test <= n - 1


def expected_emobox_rule(speakers, labels) -> str:
    """The EmoBox rule computed apart from the code under test: Cramér's V from scipy's
    chi-square statistic."""
    su, si = np.unique(speakers, return_inverse=True)
    lu, li = np.unique(labels, return_inverse=True)
    table = np.zeros((len(su), len(lu)), int)
    np.add.at(table, (si, li), 1)
    balanced = True
    if len(su) > 1 and len(lu) > 1:
        from scipy.stats import chi2_contingency  # 1.8 s to import: only where it is used

        chi2 = chi2_contingency(table, correction=False)[0] if (table > 0).all() else None
        v = np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))) if chi2 is not None else 1
        balanced = (table > 0).all() and v <= P.BALANCE_THRESHOLD
    if len(su) < 4 or not balanced:
        return "speaker-dependent"
    return "loso" if len(su) <= 6 else "kfold"


@given(rows_st, st.integers(0, 1000))
def test_the_emobox_rule_is_the_one_its_conditions_select(rows, seed):
    speakers, labels = arrays(rows)
    a = P.emobox(speakers, labels, seed)
    assert a.rule == expected_emobox_rule(speakers, labels)
    assert a.stats["speakers"] == len(np.unique(speakers)) and a.reason
    if a.rule == "kfold":
        assert a.folds.shape[0] == P.EMOBOX_FOLDS
    if a.rule != "speaker-dependent":
        check_speaker_independent(a, speakers)


@given(st.integers(2, 8), st.integers(1, 6), st.integers(1, 40), st.integers(0, 1000),
       st.data())
def test_balanced_is_even_over_labels_and_speakers(n_spk, per_cell_max, items, seed, data):
    counts = data.draw(st.lists(st.lists(st.integers(0, per_cell_max), min_size=3, max_size=3),
                                min_size=n_spk, max_size=n_spk))
    rows = [(s, lab) for s in range(n_spk) for lab in range(3) for _ in range(counts[s][lab])]
    if not rows:
        return
    speakers, labels = arrays(rows)
    subset = ["l0", "l1", "l2"]
    per_label = [items // 3 + (i < items % 3) for i in range(3)]
    available = [(labels == lab).sum() for lab in subset]
    if items < 3 or any(a < w for a, w in zip(available, per_label, strict=True)):
        with pytest.raises(InvalidInput):
            P.balanced(speakers, labels, items, subset, seed)
        return
    a = P.balanced(speakers, labels, items, subset, seed)
    chosen = a.folds[0] == P.TEST
    assert chosen.sum() == items and set(np.unique(a.folds)) <= {P.LEFT_OUT, P.TEST}
    for lab, want in zip(subset, per_label, strict=True):
        assert (chosen & (labels == lab)).sum() == want
        taken = {s: (chosen & (labels == lab) & (speakers == s)).sum() for s in np.unique(speakers)}
        have = {s: ((labels == lab) & (speakers == s)).sum() for s in np.unique(speakers)}
        top = max(taken.values())
        # even: a speaker with fewer rows drawn than the most-drawn speaker has none left
        assert all(taken[s] >= top - 1 or taken[s] == have[s] for s in taken)
    assert (P.balanced(speakers, labels, items, subset, seed).folds == a.folds).all()


def test_ratios_are_checked():
    assert P.check_ratios([60, 20, 20]) == (0.6, 0.2, 0.2)
    assert P.check_ratios([0.7, 0.1, 0.2]) == (0.7, 0.1, 0.2)
    for bad, match in (([50, 20, 20], "sum to 1"), ([0.8, -0.1, 0.3], "negative"),
                       ([0.5, 0.5], "three"), ([0, 0.5, 0.5], "train and a test")):
        with pytest.raises(InvalidInput, match=match):
            P.check_ratios(bad)


@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.integers(-200, 200)), max_size=4))
def test_any_ratios_are_accepted_as_shares_or_refused_cleanly(ratios):
    try:
        out = P.check_ratios(ratios)
    except InvalidInput:
        return
    assert len(out) == 3 and min(out) >= 0 and abs(sum(out) - 1) < 1e-6
    assert out[P.TRAIN] > 0 and out[P.TEST] > 0


@given(st.text(max_size=30), st.text(max_size=12))
def test_any_where_or_prefix_is_accepted_or_refused_cleanly(where, prefix):
    from casdb.research.splitting import SplitSpec

    try:
        SplitSpec("loso", where=where, prefix=prefix or None).check()
    except InvalidInput as exc:
        assert "\n" not in str(exc)


# -- casdb.split on committed versions -------------------------------------------------------------

@pytest.fixture
def corpus(tmp_path):
    """Commit a corpus (keyword arguments of make_corpus) as NAME 1.0.0; returns the repo."""
    repo = casdb.Repository.init(tmp_path / "repo")

    def make(name="emo", **kw):
        repo.commit(make_corpus(tmp_path / f"src-{name}", name=name, **kw), dataset=name,
                    version="1.0.0")
        return repo

    return make


@pytest.mark.parametrize(("speakers", "per_cell", "official", "rule", "folds"), [
    (3, 3, False, "speaker-dependent", 1),
    (5, 2, False, "loso", 5),
    (8, 2, False, "kfold", 4),
    (5, [[3, 3, 3, 0]] + [[3, 3, 3, 3]] * 4, False, "speaker-dependent", 1),  # spk00 has no sad
    (5, [[12, 1, 1, 1]] + [[1, 1, 1, 12]] * 4, False, "speaker-dependent", 1),  # Cramér's V high
    (5, 2, True, "official", 1),
])
def test_emobox_chooses_and_reports_its_rule(corpus, speakers, per_cell, official, rule, folds):
    repo = corpus(speakers=speakers, per_cell=per_cell, official=official)
    out = casdb.split("emo", "1.0.0", protocol="emobox", dry_run=True, repo=repo)
    assert (out.rule, out.folds) == (rule, folds)
    assert out.reason and out.reason in out.summary() and rule in out.summary()
    assert out.left_out == 0 and out.counts["rows"].sum() >= out.rows
    per = out.counts.groupby(["fold", "partition", "label"])["rows"].sum().unstack("partition")
    if rule == "speaker-dependent":  # 25 % of each label to test, within one row
        total = per["train"] + per["test"]
        assert ((per["test"] - 0.25 * total).abs() <= 1).all()
    elif rule != "official":  # every speaker tested once, alone or merged
        tested = out.counts[out.counts["partition"] == "test"]
        assert tested.groupby("speaker")["fold"].nunique().eq(1).all()
        assert tested["speaker"].nunique() == speakers


def test_emobox_can_ignore_official_splits(corpus):
    repo = corpus(speakers=5, per_cell=2, official=True)
    out = casdb.split("emo", "1.0.0", protocol="emobox", official=False, dry_run=True, repo=repo)
    assert out.rule == "loso"


def test_a_committed_split_loads_in_audformat_and_stores_no_media(corpus, tmp_path):
    repo = corpus(speakers=5, per_cell=3)
    blobs = set(repo.store.blob_ids())
    out = casdb.split("emo", "1.0.0", protocol="serab", ratios=(60, 20, 20), seed=3,
                      new_version="1.1.0", repo=repo)
    assert out.commit.new_bytes == 0 and out.commit.new_files == 0
    assert set(repo.store.blob_ids()) == blobs
    assert repo.media("emo", "1.1.0").equals(repo.media("emo", "1.0.0"))
    old, new = repo.snapshot("emo", "1.0.0"), repo.snapshot("emo", "1.1.0")
    for tid, oid in old.commit.tables:  # tables kept as they were: the same objects
        assert dict(new.commit.tables)[tid] == oid
    assert new.commit.parents == (old.commit_id,)
    root = casdb.checkout("emo", "1.1.0", tmp_path / "co", repo=repo).path
    db = audformat.Database.load(str(root))
    assert {k: v.type for k, v in db.splits.items()} == {
        "serab.train": "train", "serab.dev": "dev", "serab.test": "test"}
    emotion = db["emotion"].get()
    seen = []
    for sid in db.splits:
        t = db[sid]
        assert t.split_id == sid
        frame = t.get()
        seen.extend(frame.index)
        assert frame["emotion"].equals(emotion.loc[frame.index, "emotion"])
    assert sorted(seen) == sorted(emotion.index)  # every row once
    spk = {sid: set(db[sid].get()["speaker"]) for sid in db.splits}
    assert not (spk["serab.train"] & spk["serab.test"]) and not (spk["serab.dev"] & spk["serab.test"])
    record = db.meta["casdb_splits"]["serab"]
    assert record["protocol"] == "serab" and record["seed"] == 3
    assert record["parameters"]["ratios"] == [0.6, 0.2, 0.2] and record["casdb"]
    assert record["source"] == {"dataset": "emo", "version": "1.0.0", "commit": old.commit_id}
    log = repo.log("emo")[0]
    assert log.versions == ["1.1.0"] and "serab" in log.commit.message
    assert "seed 3" in log.commit.message and "serab.test" in log.tables


def test_splits_are_the_same_in_two_repositories(tmp_path):
    commits = []
    for i in range(2):
        repo = casdb.Repository.init(tmp_path / f"r{i}")
        repo.commit(make_corpus(tmp_path / f"s{i}", speakers=9, per_cell=2), dataset="emo",
                    version="1.0.0")
        out = casdb.split("emo", "1.0.0", protocol="emobox", seed=11, new_version="2",
                          repo=repo)
        snap = repo.snapshot("emo", "2")
        c = snap.commit
        header = snap.header
        # the source commits differ (committed at other times): all else is the same
        assert header["casdb_splits"]["emobox"]["source"].pop("commit") == c.parents[0]
        commits.append((c.tree, c.tables, c.media, header, out.counts))
    assert commits[0][:4] == commits[1][:4]
    assert commits[0][4].equals(commits[1][4])


def test_the_seed_changes_the_folds_and_is_recorded(corpus):
    repo = corpus(speakers=12, per_cell=1)
    a, b = (casdb.split("emo", "1.0.0", protocol="kfold", folds=3, seed=s, dry_run=True,
                        repo=repo).counts for s in (1, 2))
    c = casdb.split("emo", "1.0.0", protocol="kfold", folds=3, seed=1, dry_run=True,
                    repo=repo).counts
    assert a.equals(c) and not a.equals(b)


@pytest.mark.parametrize("speaker", ["speaker", "files.speaker", "sessions.speaker"])
def test_the_speaker_can_come_from_another_table(tmp_path, speaker):
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(make_corpus(tmp_path / "s", speakers=7, per_cell=2), dataset="emo")
    out = casdb.split("emo", protocol="kfold", folds=3, speaker=speaker, seed=5, dry_run=True,
                      repo=repo)
    ref = casdb.split("emo", protocol="kfold", folds=3, seed=5, dry_run=True, repo=repo)
    assert out.counts.equals(ref.counts)


def test_balanced_test_set_with_a_filter(corpus, tmp_path):
    repo = corpus(speakers=6, per_cell=8)
    out = casdb.split("emo", "1.0.0", protocol="balanced", items=24, where="agreement>=0.6",
                      seed=2, new_version="1.1.0", repo=repo)
    assert out.counts["rows"].sum() == 24 and out.tables == ["balanced.test"]
    per_label = out.counts.groupby("label")["rows"].sum()
    assert per_label.to_dict() == {"angry": 6, "happy": 6, "neutral": 6, "sad": 6}
    test = repo.table("emo", "balanced.test", "1.1.0")
    agreement = repo.table("emo", "emotion", "1.0.0").loc[test.index, "agreement"]
    assert (agreement >= 0.6).all()
    with pytest.raises(InvalidInput, match="'fear' is not a value"):
        casdb.split("emo", "1.0.0", protocol="balanced", labels=["angry", "fear"], dry_run=True,
                    repo=repo)


def test_dry_run_and_bad_input_store_nothing(corpus):
    repo = corpus(speakers=5, per_cell=2)
    before = store_state(repo)
    out = casdb.split("emo", "1.0.0", protocol="emobox", dry_run=True, repo=repo)
    assert out.commit is None and "fold5" in out.summary()
    bad = [
        (dict(protocol="nope"), InvalidInput, "unknown protocol"),
        (dict(protocol="loso", speaker="spk"), InvalidInput, "no speaker column 'spk'"),
        (dict(protocol="loso", speaker="files.who"), InvalidInput, "no column 'who'"),
        (dict(protocol="loso", speaker="nope.speaker"), NotFound, "no table 'nope'"),
        (dict(protocol="loso", table="nope"), NotFound, "no table 'nope'"),
        (dict(protocol="loso", table="sessions"), InvalidInput, "misc table"),
        (dict(protocol="loso", label="valence"), InvalidInput, "column 'valence'"),
        (dict(protocol="kfold", folds=6), InvalidInput, "6 folds need at least 6 speakers"),
        (dict(protocol="serab", ratios=(60, 20, 30)), InvalidInput, "sum to 1"),
        (dict(protocol="serab", ratios=(0.9, -0.1, 0.2)), InvalidInput, "negative"),
        (dict(protocol="loso", new_version="1.0.0"), AlreadyExists, "exists already"),
        (dict(protocol="loso", new_version=None), InvalidInput, "new version"),
        (dict(protocol="balanced", items=100), InvalidInput, "eligible rows"),
        (dict(protocol="loso", where="agreement >> 3"), InvalidInput, "COLUMN OP VALUE"),
        (dict(protocol="loso", seed=-1), InvalidInput, "seed"),
    ]
    for kwargs, error, match in bad:
        kwargs.setdefault("new_version", "2.0.0")
        with pytest.raises(error, match=match):
            casdb.split("emo", "1.0.0", repo=repo, **kwargs)
    assert store_state(repo) == before


def test_a_second_split_needs_another_prefix(corpus):
    repo = corpus(speakers=5, per_cell=2)
    casdb.split("emo", "1.0.0", protocol="loso", new_version="1.1.0", repo=repo)
    before = store_state(repo)
    with pytest.raises(AlreadyExists, match="--prefix"):
        casdb.split("emo", "1.1.0", protocol="loso", new_version="1.2.0", repo=repo)
    assert store_state(repo) == before
    out = casdb.split("emo", "1.1.0", protocol="loso", prefix="loso2", branch="exp", repo=repo)
    assert out.tables[0] == "loso2.fold1.train" and repo.branches("emo")["exp"] == out.commit.id
    header = repo.header("emo", "exp")
    assert set(header["casdb_splits"]) == {"loso", "loso2"}


def test_a_segmented_table_is_split_by_segment(tmp_path):
    from casdb.testing.synth import make_dataset

    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(make_dataset(tmp_path / "s", files=10, duration=0.05), dataset="d", version="1")
    out = casdb.split("d", "1", protocol="kfold", folds=2, table="segments",
                      speaker="emotion.speaker", new_version="2", repo=repo)
    seg = repo.table("d", "segments", "1")
    parts = [repo.table("d", t, "2") for t in out.tables if t.endswith(".test")]
    assert sorted(i for p in parts for i in p.index) == sorted(seg.index)
    db = audformat.Database.load(str(casdb.checkout("d", "2", tmp_path / "co", repo=repo).path))
    assert db["kfold.fold1.test"].is_segmented


@pytest.mark.parametrize("record", ["text", 7, ["a"], {"emobox": "text"}, {"x": {"splits": 3}}])
def test_a_hand_written_casdb_splits_key_does_not_break_a_split(tmp_path, record):
    import yaml

    root = make_corpus(tmp_path / "s", speakers=4, per_cell=2)
    header = yaml.safe_load((root / "db.yaml").read_text())
    header["casdb_splits"] = record
    (root / "db.yaml").write_text(yaml.safe_dump(header, sort_keys=False))
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(root, dataset="emo", version="1")
    out = casdb.split("emo", "1", protocol="loso", new_version="2", repo=repo)
    assert out.folds == 4 and set(repo.header("emo", "2")["casdb_splits"]) >= {"loso"}
    from click.testing import CliRunner

    from casdb.cli import cli as group

    show = CliRunner().invoke(group, ["--repo", str(repo.path), "show", "emo@2"])
    assert show.exit_code == 0 and "loso: loso -> loso" in show.output


def test_rows_without_a_speaker_are_left_out_and_counted(tmp_path):
    root = make_corpus(tmp_path / "s", speakers=5, per_cell=2)
    lines = (root / "db.files.csv").read_text().splitlines()
    (root / "db.files.csv").write_text("\n".join(lines[:-3]) + "\n")  # 3 files lose their speaker
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(root, dataset="emo", version="1")
    out = casdb.split("emo", "1", protocol="loso", speaker="files.speaker", new_version="2",
                      repo=repo)
    assert (out.rows, out.left_out) == (40, 3)
    assert out.counts.groupby("fold")["rows"].sum().eq(37).all()
    tested = [i for t in out.tables if t.endswith(".test") for i in repo.table("emo", t, "2").index]
    assert sorted(tested) == sorted(repo.table("emo", "emotion", "1").index[:-3])


def test_the_speaker_from_a_misc_table_with_categorical_keys(tmp_path):
    from casdb.testing.synth import make_dataset

    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(make_dataset(tmp_path / "s", files=10, duration=0.05), dataset="d", version="1")
    # synth: emotion.speaker takes its labels from the misc table `speaker` (age, gender)
    out = casdb.split("d", "1", protocol="kfold", folds=2, label="emotion",
                      speaker="speaker.gender", dry_run=True, repo=repo)
    assert set(out.counts["speaker"]) == {"female", "male"} and out.left_out == 0


def test_a_rich_database_keeps_every_table_and_attachment(tmp_path):
    """audformat's rich test database (every dtype, misc tables, open segments, an empty table,
    unicode names, attachments): after a split, audformat reads every table as before."""
    from casdb.testing.richdb import build_db

    old = build_db(tmp_path / "db", "parquet")
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(tmp_path / "db", dataset="rich", version="1")
    out = casdb.split("rich", "1", protocol="emobox", table="files", label="label",
                      speaker="label_map_str", new_version="2", repo=repo)
    assert out.rule == "speaker-dependent" and out.commit.new_bytes == 0
    assert repo.media("rich", "2").equals(repo.media("rich", "1"))
    new = audformat.Database.load(str(casdb.checkout("rich", "2", tmp_path / "co", repo=repo).path))
    for tid in [*old.tables, *old.misc_tables]:
        assert new[tid] == old[tid], tid
    assert list(new.attachments) == list(old.attachments) and list(old.attachments)
    assert set(new.splits) == set(old.splits) | {"emobox.fold1.train", "emobox.fold1.test"}


def test_commit_files_takes_attachments_from_the_stored_files(tmp_path):
    """commit_files checks a derived header's attachments against its files, not the folder."""
    import shutil

    from casdb.commit.committer import commit_files
    from casdb.core.errors import InvalidDataset

    root = make_corpus(tmp_path / "s", speakers=2, per_cell=1)
    (root / "docs").mkdir()
    (root / "docs" / "readme.txt").write_text("about")
    (root / "db.yaml").write_text((root / "db.yaml").read_text()
                                  + "attachments:\n  readme: {path: docs}\n")
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(root, dataset="emo", version="1")
    media = repo.media("emo", "1")
    files = {f: (r.blob, int(r.bytes)) for f, r in media.iterrows()}
    folder = tmp_path / "derived"
    folder.mkdir()
    for p in [root / "db.yaml", *root.glob("db.*.csv")]:
        shutil.copy(p, folder)
    out = commit_files(repo, folder, files, dataset="emo2", version="1")
    assert out.new_bytes == 0 and "docs/readme.txt" in repo.media("emo2", "1").index
    files.pop("docs/readme.txt")
    before = store_state(repo)
    with pytest.raises(InvalidDataset, match="attachment 'readme': docs is not in the folder"):
        commit_files(repo, folder, files, dataset="emo3", version="1")
    assert store_state(repo) == before
