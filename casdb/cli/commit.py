"""casdb commit SRC --dataset NAME [--version V] [--branch B] [-m MSG] [--allow-undecodable]
[--allow-empty] [--engine E]"""

from __future__ import annotations

import click

from casdb.cli.common import engine_option, open_repo


@click.command("commit")
@click.argument("src", type=click.Path(file_okay=False))
@click.option("--dataset", "-d", required=True, help="Dataset name.")
@click.option("--version", "-v", "version", help="Version to publish (immutable tag).")
@click.option("--branch", "-b", default="main", show_default=True, help="Branch to advance.")
@click.option("--message", "-m", default="", help="Commit message.")
@click.option("--author", help="Author (default: CASDB_AUTHOR or your login).")
@click.option("--allow-undecodable", is_flag=True,
              help="Accept media that claim to be audio but that libsndfile cannot decode "
                   "(text or empty files named .wav, truncated WAVs).")
@click.option("--allow-empty", is_flag=True,
              help="Record a commit even if nothing changed since the parent.")
@engine_option
@click.pass_context
def command(ctx: click.Context, src: str, dataset: str, version: str | None, branch: str,
            message: str, author: str | None, allow_undecodable: bool,
            engine: str | None, allow_empty: bool) -> None:
    """Commit the audformat folder SRC as a new version of a dataset.

    A folder equal to the parent records nothing ("nothing to commit", exit 0), unless
    --allow-empty; with --version the parent is tagged instead.
    """
    result = open_repo(ctx).commit(
        src, dataset=dataset, version=version, branch=branch, message=message, author=author,
        allow_undecodable=allow_undecodable, engine=engine,
        allow_empty=allow_empty,
    )
    click.echo(result.id)
    click.echo(result.summary())
