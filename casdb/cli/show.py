"""casdb show NAME[@VERSION]"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_for, split_ref


@click.command("show")
@click.argument("ref", metavar="NAME[@VERSION]")
@json_option
@click.pass_context
def command(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a data card of one version: header, tables, schemes, splits, raters, media."""
    from casdb.api import info
    from casdb.core.ids import short
    from casdb.core.units import human_duration, human_size, local_time

    name, version = split_ref(ref)
    repo = open_for(ctx, name)
    s = info(name, version, repo=repo)
    if as_json:
        c = s.commit
        emit_json({
            "dataset": s.dataset, "commit": s.commit_id, "versions": s.versions,
            "parents": list(c.parents), "time": local_time(c.time, c.tz_offset),
            "unix_time": c.time, "author": c.author, "message": c.message,
            "header": s.header,
            "tables": [{"id": t.name, "type": t.type, "rows": t.rows,
                        "columns": [{"name": n, "scheme": sc} for n, sc in t.columns],
                        "split": t.split, "media": t.media} for t in s.tables],
            "media": s.media, "purged": repo.purged_paths(s.commit_id)})
        return
    label = ", ".join(s.versions) if s.versions else "unversioned"
    click.secho(f"{s.dataset} {label}", bold=True, nl=False)
    click.echo(f"  (commit {short(s.commit_id)}, {local_time(s.commit.time, s.commit.tz_offset)}, "
               f"{s.commit.author})")
    for key, value in s.fields.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        click.echo(f"  {key + ':':<14}{' '.join(text.split())}")
    for key, value in s.meta.items():
        click.echo(f"  {'meta.' + str(key) + ':':<14}{value}")

    composition = s.header.get("composition")
    if isinstance(composition, dict) and isinstance(composition.get("sources"), list):
        click.secho("composed from", bold=True)
        for src in composition["sources"]:
            if isinstance(src, dict):
                click.echo(f"  {src.get('dataset')} {src.get('version') or 'latest'} "
                           f"(commit {short(str(src.get('commit', '')))})")

    gone = repo.purged_paths(s.commit_id)
    if gone:
        click.secho(f"  purged:       {len(gone)} file{'s' if len(gone) > 1 else ''} "
                    f"({', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''}); see casdb purged",
                    fg="red")
    m = s.media
    click.secho("media", bold=True)
    left_out = (f" ({m.purged_files} purged file{'s' if m.purged_files > 1 else ''}, "
                f"{human_size(m.purged_bytes)}, left out)" if m.purged_files else "")
    click.echo(f"  {m.files} files, {human_size(m.bytes)}, {human_duration(m.duration)} of audio"
               + left_out)
    for title, counter in (("formats", m.formats), ("sampling rates", m.sampling_rates),
                           ("channels", m.channels), ("bit depths", m.bit_depths)):
        if counter:
            # None: a format without a bit depth (MP3, Vorbis): not applicable, not zero.
            parts = ", ".join(f"{'n/a' if k is None else k} ({n})"
                              for k, n in sorted(counter.items(), key=lambda kv: (kv[0] is None, str(kv[0]))))
            click.echo(f"  {title + ':':<16}{parts}")

    click.secho(f"tables ({len(s.tables)})", bold=True)
    width = max((len(t.name) for t in s.tables), default=0)
    for t in s.tables:
        extra = "".join(f", {k} {v}" for k, v in (("split", t.split), ("media", t.media)) if v)
        click.echo(f"  {t.name:<{width}}  {t.type:<9} {t.rows:>9} rows{extra}")
        for column, scheme in t.columns:
            click.echo(f"  {'':<{width}}    {column}" + (f" [{scheme}]" if scheme else ""))

    schemes = s.section("schemes")
    if schemes:
        click.secho(f"schemes ({len(schemes)})", bold=True)
        for sid, spec in schemes.items():
            spec = spec or {}
            bits = [s.scheme_dtype(spec)]
            labels = spec.get("labels")
            if isinstance(labels, str):
                bits.append(f"labels from table {labels}")
            elif labels:
                shown = list(labels)[:8]
                more = f", ... ({len(labels)})" if len(labels) > 8 else ""
                bits.append("labels " + ", ".join(map(str, shown)) + more)
            if spec.get("minimum") is not None or spec.get("maximum") is not None:
                bits.append(f"range [{spec.get('minimum', '')}, {spec.get('maximum', '')}]")
            click.echo(f"  {sid}: {'; '.join(bits)}")
    for section in ("splits", "raters", "attachments"):
        items = s.section(section)
        if items:
            click.secho(f"{section} ({len(items)})", bold=True)
            for key, spec in items.items():
                spec = spec or {}
                detail = spec.get("type") or spec.get("path") or ""
                description = spec.get("description")
                click.echo(f"  {key}: {detail}" + (f" - {description}" if description else ""))
    protocols = s.header.get("casdb_splits") or {}  # written by casdb split
    if isinstance(protocols, dict) and protocols:
        click.secho(f"split protocols ({len(protocols)})", bold=True)
        for prefix, entry in protocols.items():
            entry = entry if isinstance(entry, dict) else {}
            src = entry.get("source") or {}
            folds = entry.get("folds")
            click.echo(f"  {prefix}: {entry.get('protocol')} -> {entry.get('rule')}, "
                       f"{folds} fold{'s' if folds != 1 else ''}, seed {entry.get('seed')}, "
                       f"from {src.get('dataset')}@{src.get('version') or str(src.get('commit'))[:10]}"
                       f" (casdb {entry.get('casdb')})")
            if entry.get("reason"):
                click.echo(f"    {entry['reason']}")
