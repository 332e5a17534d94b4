"""casdb split NAME@VERSION --protocol emobox|serab|loso|kfold|balanced [options]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo, split_ref


def _numbers(text: str | None, what: str) -> tuple[float, ...] | None:
    """``60,20,20`` -> (60.0, 20.0, 20.0)."""
    if text is None:
        return None
    from casdb.core.errors import InvalidInput

    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InvalidInput(f"{what} must be numbers separated by commas, not {text!r}") from None


@click.command("split")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--protocol", "-p", required=True, help="emobox, serab, loso, kfold or balanced.")
@click.option("--table", "-t", help="Table whose rows are split (default: the first filewise or "
              "segmented table with the label column).")
@click.option("--label", "-l", default="emotion", show_default=True, help="Label column.")
@click.option("--speaker", "-s", default="speaker", show_default=True,
              help="Speaker column, or TABLE.COLUMN (a table indexed by file, or a misc table "
                   "indexed by a column of the table).")
@click.option("--ratios", help="serab: train,dev,test shares, e.g. 60,20,20 (the default) or "
              "70,10,20.")
@click.option("--folds", "-k", type=int, default=5, show_default=True, help="kfold: folds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--items", type=int, default=240, show_default=True,
              help="balanced: rows in the test set.")
@click.option("--labels", "label_subset", default="angry,happy,neutral,sad", show_default=True,
              help="balanced: labels to draw from, comma-separated.")
@click.option("--where", help="Only rows meeting COLUMN OP VALUE, e.g. 'agreement>=0.8'.")
@click.option("--prefix", help="Split and table ids start with this (default: the protocol).")
@click.option("--ignore-official", is_flag=True,
              help="emobox: apply the speaker rules even if the dataset has train/test splits.")
@click.option("--version", "-v", "new_version", help="Version to publish the split as.")
@click.option("--branch", "-b", help="Branch to advance (default: main).")
@click.option("--message", "-m", help="Commit message (default: says protocol, rule, seed).")
@click.option("--dry-run", "-n", is_flag=True,
              help="Print folds x partitions x speakers x labels; commit nothing.")
@click.pass_context
def command(ctx: click.Context, ref: str, protocol: str, table: str | None, label: str,
            speaker: str, ratios: str | None, folds: int, seed: int, items: int,
            label_subset: str, where: str | None, prefix: str | None, ignore_official: bool,
            new_version: str | None, branch: str | None, message: str | None,
            dry_run: bool) -> None:
    """Split a version by a benchmark protocol and commit the splits as a new version.

    Writes audformat split tables (one per fold and partition) and stores no media bytes.
    """
    from casdb.api import split

    name, version = split_ref(ref)
    result = split(
        name, version, protocol=protocol, table=table, label=label, speaker=speaker,
        ratios=_numbers(ratios, "--ratios") or (0.6, 0.2, 0.2), folds=folds, seed=seed,
        items=items, labels=[x.strip() for x in label_subset.split(",") if x.strip()],
        where=where, prefix=prefix, official=not ignore_official, new_version=new_version,
        branch=branch, message=message, dry_run=dry_run, repo=open_repo(ctx),
    )
    if result.commit is not None:
        click.echo(result.commit.id)
    click.echo(result.summary())
    if dry_run:
        click.echo("dry run: nothing committed")
