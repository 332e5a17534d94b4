"""casdb tag NAME[@REF] VERSION | casdb tag NAME --delete VERSION [--yes] | casdb tag NAME"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo, split_ref
from casdb.cli.complete import complete_ref, complete_version


@click.command("tag")
@click.argument("ref", metavar="NAME[@REF]", shell_complete=complete_ref)
@click.argument("version", required=False)
@click.option("--delete", "-d", "delete", metavar="VERSION", shell_complete=complete_version,
              help="Delete this version's tag (asks first).")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.option("--force", is_flag=True, help="Allow deleting the dataset's last ref.")
@click.pass_context
def command(ctx: click.Context, ref: str, version: str | None, delete: str | None,
            yes: bool, force: bool) -> None:
    """Publish VERSION on an existing commit of a dataset, or delete a version's tag.

    REF is a version, branch or commit prefix (default: main's head). A version is
    immutable: tagging one that exists fails. Without VERSION, list the versions.

    \b
    casdb tag emodb@3f2a9c1e 1.0.1           publish 1.0.1 on commit 3f2a9c1e...
    casdb tag emodb --delete 1.0.1           delete the tag (here only: see docs/remotes.md)
    """
    from casdb.core.errors import InvalidInput
    from casdb.core.names import version_key

    name, at = split_ref(ref)
    repo = open_repo(ctx)
    if delete is not None:
        if version is not None or at is not None:
            raise InvalidInput("--delete takes the dataset NAME only: casdb tag NAME --delete "
                               "VERSION")
        commit = repo.tags(name).get(delete)
        if commit is not None and not yes:
            click.confirm(f"delete version {delete} of {name} (commit {commit[:10]})?",
                          abort=True, err=True)
        commit = repo.delete_tag(name, delete, force=force)
        click.echo(f"deleted version {delete} of {name} (was {commit[:10]})")
        return
    if version is None:
        if at is not None or force:
            raise InvalidInput("missing VERSION: casdb tag NAME@REF VERSION")
        tags = repo.tags(name)
        for v in sorted(tags, key=version_key):
            click.echo(f"{v}  {click.style(tags[v][:10], fg='yellow')}")
        return
    commit = repo.tag(name, at, version)
    click.echo(f"tagged {name} {version} at {commit[:10]}")
