"""casdb branch NAME [NEW --from REF | --delete BRANCH [--force]]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo
from casdb.cli.complete import complete_branch, complete_version


@click.command("branch")
@click.argument("name")
@click.argument("new_branch", required=False, metavar="[NEW]")
@click.option("--from", "ref", metavar="REF", shell_complete=complete_version,
              help="Start NEW here: a version, branch or commit prefix (default: main's head).")
@click.option("--delete", "-d", "delete", metavar="BRANCH", shell_complete=complete_branch,
              help="Delete this branch (what no ref reaches goes at the next gc).")
@click.option("--force", is_flag=True, help="Allow deleting main or the dataset's last ref.")
@click.pass_context
def command(ctx: click.Context, name: str, new_branch: str | None, ref: str | None,
            delete: str | None, force: bool) -> None:
    """List the branches of dataset NAME, create branch NEW, or delete one.

    \b
    casdb branch emodb                       list: branch, commit, versions there
    casdb branch emodb fix --from 1.0.0      create fix at version 1.0.0
    casdb branch emodb --delete fix          delete fix
    """
    from casdb.core.errors import InvalidInput

    new = new_branch
    repo = open_repo(ctx)
    if delete is not None:
        if new is not None or ref is not None:
            raise InvalidInput("--delete takes no NEW branch and no --from")
        commit = repo.delete_branch(name, delete, force=force)
        click.echo(f"deleted branch {delete} of {name} (was {commit[:10]})")
        return
    if new is not None:
        commit = repo.create_branch(name, new, ref)
        click.echo(f"created branch {new} of {name} at {commit[:10]}")
        return
    if ref is not None or force:
        raise InvalidInput("--from and --force need a NEW branch or --delete")
    branches = repo.branch_list(name)
    width = max((len(b.name) for b in branches), default=0)
    for b in branches:
        versions = f"  {', '.join(b.versions)}" if b.versions else ""
        click.echo(f"{b.name:<{width}}  {click.style(b.commit[:10], fg='yellow')}{versions}")
