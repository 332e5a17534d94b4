"""casdb push [REMOTE] [--dataset NAME]"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_repo


@click.command("push")
@click.argument("remote", required=False)
@click.option("--dataset", "-d", "datasets", multiple=True, help="Only this dataset (repeatable).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@click.option("--prune", is_flag=True,
              help="Also delete (by compare-and-swap) the remote's branches deleted here.")
@json_option
@click.pass_context
def command(ctx: click.Context, remote: str | None, datasets: tuple[str, ...],
            progress: bool | None, prune: bool, as_json: bool) -> None:
    """Send to REMOTE what it lacks; refs move last, by compare-and-swap."""
    from casdb.cli.common import transfer_summary

    result = open_repo(ctx).push(remote, list(datasets) or None, progress, prune=prune)
    if as_json:
        emit_json(result)
        return
    click.echo(transfer_summary("pushed", result))
