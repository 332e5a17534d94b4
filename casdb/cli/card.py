"""casdb card NAME@VERSION [NAME@VERSION ...] [--html FILE]"""

from __future__ import annotations

import click

from casdb.cli.common import open_browsable


@click.command("card")
@click.argument("refs", nargs=-1, required=True, metavar="NAME@VERSION...")
@click.option("--html", "html", metavar="FILE", default=None,
              help="Write one self-contained HTML page with plots (several corpora: compared).")
@click.option("--sample", default=200, show_default=True,
              help="Audio files per corpus measured for the acoustic statistics (--html).")
@click.option("--seed", default=0, show_default=True, help="Seed of that sample.")
@click.pass_context
def command(ctx: click.Context, refs: tuple[str, ...], html: str | None, sample: int,
            seed: int) -> None:
    """Data cards: durations, labels per split, speakers, formats, schemes, table previews."""
    from casdb.api import card

    cards = card(*refs, repo=open_browsable(ctx), html=html, sample=sample, seed=seed)
    click.echo(cards.text())
    if html:
        click.echo(f"wrote {html}")
