"""casdb checkout --augment SPEC.yaml: augmented checkouts from the CLI, and bad specs."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from casdb.testing.cli import run_casdb

ISSUE_SPEC = ("seed: 7\nshare: 1.0\naugmentations: {pink_noise: {snr_db: [10, 20]}, "
              "time_stretch: {rate: [0.9, 1.2]}}\n")


@pytest.mark.slow  # about 5 s: a subprocess that imports librosa and stretches 12 files
def test_cli_checkout_with_the_issues_spec(published, tmp_path):
    spec = tmp_path / "aug.yaml"
    spec.write_text(ISSUE_SPEC)
    env = {**os.environ, "CASDB_CACHE": str(tmp_path / "cache")}
    done = run_casdb("checkout", "synth@1.0.0", "--sampling-rate", "16000", "--augment",
                     str(spec), repo=published.path, env=env)
    assert done.returncode == 0, done.stderr
    folder = done.stdout.splitlines()[-1]
    assert "/synth/1.0.0/16000hz-aug-" in folder and "converted 12 files" in done.stderr
    table = pq.read_table(f"{folder}/db.augmentation.parquet").to_pandas()
    assert len(table) == 12 and table["augmented"].all()
    assert set(table["augmentations"]) <= {"time_stretch,pink_noise", "time_stretch",
                                           "pink_noise"}
    again = run_casdb("checkout", "synth@1.0.0", "--sampling-rate", "16000", "--augment",
                      str(spec), repo=published.path, env=env)
    assert again.returncode == 0 and "checked out already" in again.stderr


@pytest.mark.parametrize("text, message", [
    ("seed: 7\nshare: 1.5\naugmentations: {pink_noise: {}}\n", "invalid augment share 1.5"),
    ("augmentations: {time_stretch: {rate: [0.5, 3]}}\n", "time_stretch rate [0.5, 3] is out"),
    ("augmentations: {reverb: {wet_level: 1.2}}\n", "reverb wet_level 1.2 is out of range"),
    ("augmentations: {echo: {}}\n", "unknown augmentation 'echo'"),
    ("seed: seven\n", "invalid augment seed 'seven'"),
    ("augmentations: [pink_noise]\n", "invalid augmentations"),
    ("seed: [7\n", "is not valid YAML"),
])
def test_cli_bad_specs_are_one_line_errors(cli, source, repo, tmp_path, text, message):
    assert cli("commit", str(source), "-d", "synth", "-v", "1.0.0").exit_code == 0
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    cache = tmp_path / "cache"
    result = cli("checkout", "synth@1.0.0", "--cache", str(cache), "--augment", str(spec))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not cache.exists()


def test_cli_missing_spec_file(published, tmp_path):
    done = run_casdb("checkout", "synth@1.0.0", "--cache", str(tmp_path / "c"), "--augment",
                     str(tmp_path / "nope.yaml"), repo=published.path)
    assert done.returncode == 2 and "cannot read the augment spec" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
