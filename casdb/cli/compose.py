"""casdb compose SPEC --dataset NAME [--version V] [--branch B] [-m MSG]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.command("compose")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--dataset", "-d", required=True, help="Name of the composed dataset.")
@click.option("--version", "-v", "version", help="Version to publish (immutable tag).")
@click.option("--branch", "-b", default="main", show_default=True, help="Branch to advance.")
@click.option("--message", "-m", default="", help="Commit message (default: the sources).")
@click.option("--author", help="Author (default: CASDB_AUTHOR or your login).")
@click.pass_context
def command(ctx: click.Context, spec: str, dataset: str, version: str | None, branch: str,
            message: str, author: str | None) -> None:
    """Commit the datasets of the corpus SPEC (YAML) as one dataset, labels mapped, no new
    media bytes (see docs/research.md)."""
    from casdb.api import compose
    from casdb.core.units import plural

    out = compose(spec, dataset=dataset, version=version, branch=branch, message=message,
                  author=author, repo=open_repo(ctx))
    click.echo(out.commit.id)
    per = ", ".join(f"{name} {n}" for name, n in sorted(out.per_dataset.items()))
    click.echo(f"{out.commit.summary()}\n{plural(out.rows, 'item')} ({per}); "
               f"labels: {', '.join(out.labels)}")
