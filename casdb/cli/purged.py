"""casdb purged"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_browsable


@click.command("purged")
@json_option
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List the purged blobs: when, why, and which paths held them."""
    stones = open_browsable(ctx).purged()
    if as_json:
        emit_json(stones)
        return
    if not stones:
        click.echo("nothing was purged", err=True)
    for t in stones:
        click.echo(f"{t.date}  {t.blob[:10]}  {t.dataset}: {', '.join(t.paths)}  ({t.reason})")
        for holder in t.holders:
            click.echo(f"    held by {holder}")
