"""casdb pull [REMOTE] [--dataset NAME]"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_repo


@click.command("pull")
@click.argument("remote", required=False)
@click.option("--dataset", "-d", "datasets", multiple=True, help="Only this dataset (repeatable).")
@click.option("--rebase", is_flag=True, help="Put local commits of a diverged branch on top.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@click.option("--prune", is_flag=True,
              help="Also delete local branches deleted on the remote (never unpushed work).")
@json_option
@click.pass_context
def command(ctx: click.Context, remote: str | None, datasets: tuple[str, ...], rebase: bool,
            progress: bool | None, prune: bool, as_json: bool) -> None:
    """Fetch from REMOTE what this repository lacks; new versions and branch heads move in."""
    from casdb.cli.common import transfer_summary

    result = open_repo(ctx).pull(remote, list(datasets) or None, progress, rebase,
                                prune=prune)
    if as_json:
        emit_json(result)
        return
    click.echo(transfer_summary("pulled", result))
