"""Corpora and a headless browser for the data-card tests (``casdb card``) and the screenshot in
docs/card.png.

:func:`varied_corpus` is :func:`casdb.testing.synth.make_dataset` with durations, level and noise
that vary per file and per corpus (so histograms and acoustic statistics differ between corpora).
:func:`chromium` finds Debian's chromium (scripts/_venv.sh installs it when apt-get can).

Example:
    >>> import tempfile
    >>> root = varied_corpus(tempfile.mkdtemp(), files=3)
    >>> len(list((root / "audio").rglob("*.wav")))
    3
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def varied_corpus(root: str | Path, *, files: int = 40, seed: int = 0, name: str = "synth",
                  sampling_rate: int = 16000, gain: float = 0.3, noise: float = 0.01,
                  mean_duration: float = 1.0) -> Path:
    """A synth dataset whose files last ``mean_duration`` on average (gamma distributed), with
    sines of amplitude ``gain`` (above 1: clipped), noise of amplitude ``noise`` throughout, and
    a pause (noise only) in the first quarter of every other file."""
    import numpy as np
    import soundfile as sf

    from casdb.testing.synth import file_name, header, write_tables

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "db.yaml").write_text(header(name))
    rng = np.random.default_rng(seed)
    for i in range(files):
        duration = max(0.1, float(rng.gamma(4.0, mean_duration / 4.0)))
        t = np.arange(int(duration * sampling_rate)) / sampling_rate
        signal = gain * np.sin(2 * np.pi * (120 + 40 * (i % 7)) * t)
        if i % 2:
            signal[: len(t) // 4] = 0.0
        signal = np.clip(signal + noise * rng.standard_normal(len(t)), -1.0, 1.0)
        path = root / file_name(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, signal, sampling_rate, subtype="PCM_16")
    write_tables(root, range(files), seed)
    return root


def chromium() -> str | None:
    """The chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    return subprocess.run([binary, "--headless", "--disable-gpu", "--no-sandbox",
                           "--no-first-run", "--disable-extensions", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after it loaded, as headless chromium serialises it."""
    done = _run(["--dump-dom", Path(page).resolve().as_uri()])
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2400) -> None:
    """A PNG of ``page`` as headless chromium renders it."""
    done = _run([f"--screenshot={Path(png).resolve()}", f"--window-size={width},{height}",
                 "--hide-scrollbars", Path(page).resolve().as_uri()])
    if done.returncode != 0 or not Path(png).exists():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")


PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener("load", () => {
  const plots = [...document.querySelectorAll(".plot svg")].map(svg => {
    const box = svg.getBoundingClientRect();
    return {width: box.width, height: box.height, paths: svg.querySelectorAll("path").length,
            drawn: [...svg.querySelectorAll("path")].filter(p => {
              const b = p.getBBox(); return b.width > 0 || b.height > 0; }).length};
  });
  const audio = [...document.querySelectorAll("audio")].map(a => ({
    src: a.getAttribute("src").slice(0, 40), error: a.error ? a.error.code : null}));
  const out = document.createElement("pre");
  out.id = "casdb-probe";
  out.textContent = JSON.stringify({plots, audio, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def probe(page: Path, work: Path) -> dict:
    """Load a copy of ``page`` with a probe script in headless chromium and return what the
    browser measured: each plot's rendered size and its drawn paths (non-empty bounding boxes),
    the audio elements, and errors raised while loading. The page itself has no script: the probe
    goes into a copy, so what is tested is the page as shipped plus an observer."""
    import json
    import re

    text = Path(page).read_text(encoding="utf-8")
    copy = Path(work) / ("probed-" + Path(page).name)
    copy.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dom = dump_dom(copy)
    found = re.search(r'<pre id="casdb-probe">(.*?)</pre>', dom, re.S)
    if found is None:
        raise RuntimeError("the probe did not run: the page did not finish loading")
    from html import unescape

    return json.loads(unescape(found.group(1)))


def demo_repo(work: Path):
    """A repository with three contrasting corpora, each at version 1.0.0: ``studio`` (16 kHz,
    quiet), ``phone`` (8 kHz, loud, noisy, clipped) and ``emo`` (an emotion corpus with official
    train/test split tables); returns the :class:`casdb.Repository`."""
    from casdb.api import Repository
    from casdb.testing.emocorpus import make_corpus

    work = Path(work)
    repo = Repository.init(work / "repo")
    repo.commit(varied_corpus(work / "studio", files=40, seed=1, name="studio", gain=0.3,
                              noise=0.003, mean_duration=2.0), dataset="studio", version="1.0.0")
    repo.commit(varied_corpus(work / "phone", files=30, seed=2, name="phone", gain=1.3,
                              noise=0.08, sampling_rate=8000, mean_duration=1.0),
                dataset="phone", version="1.0.0")
    repo.commit(make_corpus(work / "emo", speakers=6, official=True, name="emo"),
                dataset="emo", version="1.0.0")
    return repo


def docs_screenshot(png: Path, work: Path) -> Path:
    """Make docs/card.png: the three corpora of :func:`demo_repo` compared, as chromium renders
    the page at 1280 x 2400 (``python -c "from casdb.testing.cards import docs_screenshot;
    docs_screenshot(Path('docs/card.png'), Path(tempfile.mkdtemp()))"``)."""
    from casdb.api import card

    repo = demo_repo(work)
    page = Path(work) / "card.html"
    card("studio@1.0.0", "phone@1.0.0", "emo@1.0.0", repo=repo, html=page)
    screenshot(page, png)
    return page
