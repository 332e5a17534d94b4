"""The ``casdb`` command line: one module per command, no logic of its own.

Errors are printed as one line (``casdb: error: ...``) and exit with the error's code; no
traceback. Heavy libraries are imported only inside the commands that need them, so
``casdb --help`` starts at once.
"""

from __future__ import annotations

import importlib

import click

from casdb.core.errors import Error

COMMANDS = {
    "init": "casdb.cli.init",
    "commit": "casdb.cli.commit",
    "log": "casdb.cli.log",
    "ls": "casdb.cli.ls",
    "show": "casdb.cli.show",
    "info": "casdb.cli.info",
    "diff": "casdb.cli.diff",
    "fsck": "casdb.cli.fsck",
    "checkout": "casdb.cli.checkout",
    "split": "casdb.cli.split",
    "cache": "casdb.cli.cache",
    "remote": "casdb.cli.remote",
    "push": "casdb.cli.push",
    "pull": "casdb.cli.pull",
    "clone": "casdb.cli.clone",
    "gc": "casdb.cli.gc",
    "purge": "casdb.cli.purge",
    "purged": "casdb.cli.purged",
    "compose": "casdb.cli.compose",
    "card": "casdb.cli.card",
    "branch": "casdb.cli.branch",
    "tag": "casdb.cli.tag",
}
HELP = {
    "init": "Create an empty repository.",
    "commit": "Commit an audformat folder as a new version.",
    "log": "Show the history of a dataset.",
    "ls": "List datasets and their versions.",
    "show": "Show one version: header, tables, media.",
    "info": "Print one part of a version (header, schemes, files, ...), as audb.info does.",
    "diff": "Show what changed between two versions.",
    "fsck": "Verify every stored object; list unreachable ones.",
    "checkout": "Write a version as an audformat folder (or into the cache).",
    "split": "Split a version by a benchmark protocol (EmoBox, SERAB, ...) as a new version.",
    "cache": "List, verify or evict the checkout cache.",
    "remote": "Add or list remotes (a folder or s3://bucket/prefix).",
    "push": "Send what a remote lacks; refs move last.",
    "pull": "Fetch what this repository lacks from a remote.",
    "clone": "Copy a remote repository into a new local one.",
    "gc": "Delete objects and blobs that no ref reaches.",
    "purge": "Delete media bytes from every version, remote and cache.",
    "purged": "List purged media: when, why, where.",
    "compose": "Commit several corpora as one dataset, labels mapped.",
    "card": "Data card of versions: statistics, plots (--html), corpora compared.",
    "branch": "List, create (at any commit or version) or delete branches.",
    "tag": "Publish a version on an existing commit, or delete one.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported only when run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        from casdb.cli.complete import attach  # datasets and versions for shell completion

        return attach(importlib.import_module(COMMANDS[name]).command)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Error as exc:
            click.echo(f"casdb: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("casdb: interrupted", err=True)
            ctx.exit(130)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in COMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    envvar="CASDB_REPO",
    default=None,
    show_default="repository of the config file, else ~/.casdb/repo",
    metavar="PATH",
    help="Repository: a path or URL (or set CASDB_REPO; see docs/config.md).",
)
@click.version_option(package_name="casdb")
@click.pass_context
def cli(ctx: click.Context, repo: str) -> None:
    """casdb: version and share audio datasets in a content-addressed store."""
    # resolved here rather than as click's default: a malformed config file is then a one-line
    # error (invoke catches it), and `casdb --help` reads no file
    ctx.obj = repo if repo is not None else default_repo()


def default_repo() -> str:
    """``--repo`` when neither the option nor ``CASDB_REPO`` is given: the config file's
    ``repository``, else ``~/.casdb/repo``."""
    from casdb.api import location

    return str(location(None))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``casdb`` command."""
    cli.main(args=argv, prog_name="casdb")
