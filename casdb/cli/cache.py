"""casdb cache ls | verify"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option

CACHE_OPTION = click.option(
    "--cache", "cache_root", envvar="CASDB_CACHE", metavar="PATH",
    help="Cache root (or set CASDB_CACHE); default ~/.cache/casdb.",
)


@click.group("cache")
def command() -> None:
    """Inspect and verify the checkout cache."""


@command.command("ls")
@click.argument("dataset", required=False)
@CACHE_OPTION
@json_option
def ls(dataset: str | None, cache_root: str | None, as_json: bool) -> None:
    """List the checked-out versions in the cache."""
    import time

    from casdb.api import cache_ls
    from casdb.api import cache_root as resolve
    from casdb.core.units import human_size

    root = resolve(cache_root)
    rows = cache_ls(dataset, cache_root=root)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"the cache {root} is empty", err=True)
        return
    click.echo(f"{'DATASET':<16} {'VERSION':<12} {'FLAVOUR':<18} {'TABLES':>6} {'FILES':>8} "
               f"{'SIZE':>9}  {'STATUS':<8} LAST USED")
    for s in rows:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.used)) if s.used else "-"
        click.echo(f"{s.dataset:<16} {s.version:<12} {s.flavour:<18} {s.tables:>6} {s.files:>8} "
                   f"{human_size(s.bytes):>9}  {'complete' if s.complete else 'partial':<8} {used}")
    click.echo(f"cache root: {root}", err=True)


@command.command("verify")
@click.argument("dataset", required=False)
@CACHE_OPTION
@click.option("--no-repair", is_flag=True, help="Only report; do not repair from the repository.")
@click.pass_context
def verify(ctx: click.Context, dataset: str | None, cache_root: str | None, no_repair: bool) -> None:
    """Re-hash cached files against the store; repair what was modified or removed."""
    from casdb.api import cache_verify
    from casdb.cli.common import open_repo
    from casdb.core.errors import Error, IntegrityError

    repo = None
    if not no_repair:
        try:
            repo = open_repo(ctx)
        except Error as exc:
            click.echo(f"casdb: warning: cannot repair: {exc}", err=True)
    reports = cache_verify(dataset, repo=repo, cache_root=cache_root, repair=not no_repair)
    broken = 0
    for r in reports:
        if r.incomplete:
            click.echo(f"skipped  {r.path}: an unfinished checkout (the next load finishes it)")
        for item in r.repaired:
            click.echo(f"repaired {r.path}/{item}")
        for item in r.broken:
            click.echo(f"BROKEN   {r.path}: {item}")
        broken += len(r.broken)
    checked = sum(r.checked for r in reports)
    repaired = sum(len(r.repaired) for r in reports)
    click.echo(f"verified {len(reports)} folders, {checked} files: {repaired} repaired, "
               f"{broken} broken", err=True)
    if broken:
        raise IntegrityError(f"{broken} cached files are broken")


@command.command("evict")
@CACHE_OPTION
@click.option("--max-size", required=True, metavar="SIZE",
              help="Budget for the cache's own bytes (e.g. 10G); least recently loaded go first.")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
def evict(cache_root: str | None, max_size: str, dry_run: bool) -> None:
    """Remove least-recently-loaded versions until the cache fits in SIZE."""
    from casdb.api import cache_evict
    from casdb.core.units import human_size

    out = cache_evict(max_size, cache_root=cache_root, dry_run=dry_run)
    for path in out.folders:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")
    click.echo(f"cache: {human_size(out.before)} -> {human_size(out.after)} "
               f"({len(out.folders)} folders, {out.derived} converted files, "
               f"{human_size(out.freed)} freed)", err=True)


# ``cache gc`` was this command's first name: kept, hidden, so that scripts keep working.
command.add_command(click.Command("gc", params=evict.params, callback=evict.callback,
                                  hidden=True, help=evict.help))
