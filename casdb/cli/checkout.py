"""casdb checkout NAME[@VERSION] [DEST]"""

from __future__ import annotations

import click

from casdb.api import LINK_MODES as MODES
from casdb.cli.common import engine_option, explicit_repo, split_ref


@click.command("checkout")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.argument("dest", required=False, type=click.Path(file_okay=False))
@click.option("--tables", metavar="T,...", help="Only these tables (and the media they use).")
@click.option("--media", metavar="REGEX", help="Only media whose path matches (and their rows).")
@click.option("--only-metadata", is_flag=True, help="Header and tables only, no media.")
@click.option("--cache", "cache_root", envvar="CASDB_CACHE", metavar="PATH",
              help="Cache root (or set CASDB_CACHE); default: the config file's "
                   "cache_root, else ~/.cache/casdb.")
@click.option("--link", type=click.Choice(MODES), default="auto", show_default=True,
              help="How media are placed from the store.")
@click.option("--sampling-rate", type=int, metavar="HZ", help="Resample audio to this rate.")
@click.option("--channels", metavar="C[,C...]", help="Keep these channels (indices from 0).")
@click.option("--mixdown", is_flag=True, help="Average the (selected) channels into one.")
@click.option("--bit-depth", type=int, metavar="16|24|32", help="Integer PCM bit depth.")
@click.option("--format", "fmt", metavar="wav|flac", help="Audio file format.")
@click.option("--augment", metavar="SPEC.yaml", type=click.Path(dir_okay=False),
              help="Seeded augmentations (a YAML file: seed, share, augmentations).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@engine_option
@click.pass_context
def command(ctx: click.Context, ref: str, dest: str | None, tables: str | None,
            media: str | None, only_metadata: bool, cache_root: str | None, link: str,
            sampling_rate: int | None, channels: str | None, mixdown: bool,
            bit_depth: int | None, fmt: str | None, augment: str | None,
            progress: bool | None, engine: str | None) -> None:
    """Write a version as an audformat folder to DEST, or into the cache.

    The folder's path is printed as the last line, so that `cd "$(casdb checkout emodb)"` works.
    Without --repo / CASDB_REPO, the config file's repositories are searched in order.
    """
    from casdb.api import Flavour, Request, checkout
    from casdb.core.errors import InvalidInput
    from casdb.core.units import human_size, plural

    name, version = split_ref(ref)
    table_ids = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
    request = Request.make(table_ids, media, only_metadata)
    picked = None
    if channels is not None:
        try:
            picked = [int(c) for c in channels.split(",")]
        except ValueError:
            raise InvalidInput(f"invalid channels {channels!r}: use indices like 0 or 0,1") from None
    flavour = Flavour(sampling_rate=sampling_rate, channels=picked, mixdown=mixdown,
                      bit_depth=bit_depth, format=fmt, augment=augment)
    out = checkout(name, version, dest, repo=explicit_repo(ctx), request=request,
                   cache_root=cache_root, link=link, progress=progress, flavour=flavour,
                   engine=engine)
    how = ", ".join(f"{n} by {m}" for m, n in sorted(out.state.link.items())) or "none"
    if out.converted:
        click.echo(f"converted {plural(out.converted, 'file')} to {out.state.flavour}", err=True)
    if out.placed or out.tables_written:
        click.echo(f"checked out {out.state.dataset} {out.state.version}: "
                   f"{plural(out.placed, 'file')} placed ({human_size(out.placed_bytes)}; "
                   f"in all {how}), {plural(len(out.tables_written), 'table')} written", err=True)
    else:
        click.echo(f"{out.state.dataset} {out.state.version} is checked out already", err=True)
    click.echo(str(out.path))
