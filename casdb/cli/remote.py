"""casdb remote add NAME URL | remote ls"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.group("remote")
def command() -> None:
    """Manage the remotes of the repository."""


@command.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--audio-codec", type=click.Choice(["flac", "none"]), default=None,
              help="How pushes store PCM WAV/AIFF there: flac (lossless, rebuilt bit-exact; "
                   "the default for a new remote) or none (as they are). Recorded on the "
                   "remote, for every client; given for an existing remote, it changes it.")
@click.pass_context
def add(ctx: click.Context, name: str, url: str, audio_codec: str | None) -> None:
    """Remember URL (a folder or s3://bucket/prefix) as remote NAME."""
    open_repo(ctx).remote_add(name, url, audio_codec=audio_codec)
    click.echo(f"added remote {name}: {url}")


@command.command("ls")
@click.pass_context
def ls(ctx: click.Context) -> None:
    """List the remotes."""
    for name, url in sorted(open_repo(ctx).remotes().items()):
        click.echo(f"{name}\t{url}")
