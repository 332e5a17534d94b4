"""casdb diff NAME V1 V2"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_for


@click.command("diff")
@click.argument("name")
@click.argument("old")
@click.argument("new")
@click.option("--stat", is_flag=True, help="Only counts, no paths or rows.")
@click.option("--rows", "-n", default=10, show_default=True, type=click.IntRange(min=0),
              help="Show at most this many files and rows per section.")
@json_option
@click.pass_context
def command(ctx: click.Context, name: str, old: str, new: str, stat: bool, rows: int,
            as_json: bool) -> None:
    """Show what changed in dataset NAME from version OLD to version NEW.

    Files added, removed and changed; per table, rows added, removed and changed (with the
    changed columns); and the header fields that changed.
    """
    from casdb.core.units import plural

    d = open_for(ctx, name).diff(name, old, new)
    if as_json:
        emit_json(_as_json(d, None if not stat else 0))
        return
    limit = 0 if stat else rows
    click.echo(f"files: {d.count('added')} added, {d.count('removed')} removed, "
               f"{d.count('changed')} changed")
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for change in d.media[:limit]:
        click.echo(f"  {marks[change.kind]} {change.path}")
    if len(d.media) > limit > 0:
        click.echo(f"  ... {len(d.media) - limit} more")
    click.echo(f"tables: {plural(len(d.tables), 'table')} added, removed or changed")
    for t in d.tables.values():
        if t.kind != "changed" or t.rows is None:
            n = t.new_rows if t.kind == "added" else t.old_rows
            click.echo(f"  {t.kind} {t.name} ({plural(n or 0, 'row')})")
            continue
        r = t.rows
        columns = ", ".join(f"{c}: {n}" for c, n in r.changed_columns().items())
        click.echo(f"  changed {t.name} ({t.old_rows} -> {t.new_rows} rows): "
                   f"+{len(r.added)} added, -{len(r.removed)} removed, "
                   f"~{r.changed_rows} changed" + (f" ({columns})" if columns else ""))
        for label in ("added", "removed"):
            if r.__dict__[f"columns_{label}"]:
                click.echo(f"    columns {label}: {', '.join(r.__dict__[f'columns_{label}'])}")
        shown = 0
        for mark, frame in (("+", r.added), ("-", r.removed)):
            for key in frame.index[: max(limit - shown, 0)]:
                click.echo(f"    {mark} {_key(key)}")
                shown += 1
        for key, row in r.changed.iloc[: max(limit - shown, 0)].iterrows():
            click.echo(f"    ~ {_key(key)}  {row['column']}: {row['old']!r} -> {row['new']!r}")
            shown += 1
        hidden = len(r.added) + len(r.removed) + len(r.changed) - shown
        if hidden > 0 and limit > 0:
            click.echo(f"    ... {hidden} more")
    header = ", ".join(d.header) if d.header else ("changed" if d.header_changed else "unchanged")
    click.echo(f"header: {header}")


def _key(key: object) -> str:
    return " ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _as_json(d, limit: int | None) -> dict:
    """The diff as plain data: every file (``--stat``: counts only), and per table the rows
    added, removed and changed (counts, and the changed columns)."""
    tables = []
    for t in d.tables.values():
        item = {"name": t.name, "kind": t.kind, "old_rows": t.old_rows, "new_rows": t.new_rows}
        if t.rows is not None:
            item["rows"] = {"added": len(t.rows.added), "removed": len(t.rows.removed),
                            "changed": len(t.rows.changed),
                            "changed_columns": t.rows.changed_columns()}
        tables.append(item)
    return {
        "counts": {k: d.count(k) for k in ("added", "removed", "changed")},
        "files": [{"path": c.path, "kind": c.kind} for c in d.media[:limit]],
        "tables": tables,
        "header_changed": d.header_changed,
        "header": d.header,
    }
