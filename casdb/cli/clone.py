"""casdb clone URL PATH"""

from __future__ import annotations

import click


@click.command("clone")
@click.argument("url")
@click.argument("path", type=click.Path())
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
def command(url: str, path: str, progress: bool | None) -> None:
    """Create a repository at PATH with every dataset of the remote URL (as remote origin)."""
    from casdb.api import Repository

    repo = Repository.clone(url, path, progress=progress)
    click.echo(f"cloned {len(repo.datasets())} datasets from {url} into {repo.path}")
