"""casdb info NAME[@VERSION] [--what PART] [--json]"""

from __future__ import annotations

import click

from casdb.cli.common import split_ref

SECTIONS = ("header", "tables", "misc-tables", "schemes", "splits", "raters", "attachments",
            "media")
"""Parts printed as YAML: the header, or one of its sections."""
SETS = ("formats", "sampling-rates", "channels", "bit-depths")
"""Parts printed one value a line."""
WHAT = (*SECTIONS, "duration", "files", *SETS, "dependencies", "versions")


@click.command("info")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--what", "what", type=click.Choice(WHAT), default="header", show_default=True,
              help="What to print (audb.info's names, '_' written '-').")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--cache", "cache_root", default=None, metavar="DIR",
              help="Cache root (a remote's object cache lives there).")
@click.pass_context
def command(ctx: click.Context, ref: str, what: str, as_json: bool, cache_root: str | None) -> None:
    """Print one part of a version, as audb.info does: its header (db.yaml), a header section,
    the media duration, files, formats, rates, channels, bit depths, or the media index
    (dependencies). Works on a remote (--repo URL) without fetching media.
    """
    import casdb.api as api

    name, version = split_ref(ref)
    repo = ctx.find_root().obj  # a path or a remote URL: the accessors open either
    where = {"repo": repo, "cache_root": cache_root}
    if what == "versions":
        value = api.versions(name, **where)
    elif what in SECTIONS:
        value = getattr(api, what.replace("-", "_"))(name, version, **where)
    elif what == "duration":
        value = api.duration(name, version, **where).total_seconds()
    elif what == "files":
        value = api.files(name, version, **where)
    elif what in SETS:
        value = sorted(getattr(api, what.replace("-", "_"))(name, version, **where))
    else:
        frame = api.dependencies(name, version, **where)
        if as_json:
            value = [{"file": f, **row} for f, row in zip(frame.index, frame.to_dict("records"),
                                                          strict=True)]
        else:
            click.echo(frame.to_string() if len(frame) else "(no media)")
            return
    if as_json:
        import json

        click.echo(json.dumps(value, indent=1, ensure_ascii=False, default=str))
    elif what in SECTIONS:
        import yaml

        if value:
            click.echo(yaml.safe_dump(value, sort_keys=False, allow_unicode=True).rstrip())
    elif what == "duration":
        from casdb.core.units import human_duration

        click.echo(f"{human_duration(value)} ({value:.3f} s)")
    else:
        for item in value:
            click.echo(item)
