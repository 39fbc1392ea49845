"""The built book as a reader sees it: every page opened from disk in headless Chromium.

Runs on the book that ``make book`` built (``book/_build/html``, or the folder named by
``AICSD_BOOK_HTML``). Skipped when Chromium (Debian's ``chromium``, or ``$CHROMIUM``) is missing or
the book is not built; failed instead when ``AICSD_BROWSER_REQUIRED=1`` (CI, after ``make book``).

Each page is loaded as a reader opens it (``file://``, no network), its images decoded and
MathJax's typesetting awaited, through the DevTools protocol over a pipe. A page fails on raw TeX
left in its prose (code excluded), a math element MathJax did not render (or rendered as an error),
an object's repr anywhere (``<IPython...>``, ``... object>``, ``<Figure size ...>``), an image that
does not load, a missing ``h1``, or fewer loaded images in its content than the figures its source
shows: every image output a notebook displays, and every glued image that a page places with
``{glue:figure}`` / ``{glue}`` (counted from the page's source, as Sphinx copied it to ``_sources``).
The book as a whole fails on a glued image that no page shows, and on an internal link (``<a href>``
to a page or an anchor of the book) that leads nowhere.
"""

from __future__ import annotations

import fcntl
import html as html_text
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("AICSD_BOOK_HTML", REPO / "book" / "_build" / "html"))
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
RAW_TEX = ("\\[", "\\(", "$$")
REPRS = ("<IPython", "object>", "<Figure size")

# What a reader's browser ends with: MathJax done, every image decoded, the visible text of the page.
REPORT = """(async () => {
  await Promise.all([...document.images].map(image => { image.loading = "eager"; return image.decode().catch(() => null); }));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const main = (document.querySelector("main") || document.body).cloneNode(true);
  main.querySelectorAll("script, style, mjx-container").forEach(node => node.remove());
  const text = main.textContent;
  main.querySelectorAll("pre, code").forEach(node => node.remove());
  return JSON.stringify({
    text: text,
    prose: main.textContent,
    h1: [...document.querySelectorAll("h1")].map(node => node.textContent.trim()).filter(Boolean),
    unrendered: [...document.querySelectorAll(".math")].filter(node => !node.querySelector("mjx-container")).map(node => node.textContent.trim().slice(0, 60)),
    errors: [...document.querySelectorAll("mjx-merror, [data-mjx-error]")].map(node => node.getAttribute("data-mjx-error") || node.textContent.slice(0, 60)),
    broken: [...document.images].filter(image => !image.complete || image.naturalWidth === 0).map(image => image.getAttribute("src")),
    loaded: [...(document.querySelector("main") || document.body).querySelectorAll("img")].filter(image => image.complete && image.naturalWidth > 0).length,
  });
})()"""


class Browser:
    """Headless Chromium driven through the DevTools protocol on fds 3 (commands) and 4 (replies)."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory()
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def onto_3_and_4() -> None:  # via fds >= 10, so that neither end overwrites the other
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=onto_3_and_4,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", session=self.session)

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._commands, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, message in enumerate(self.events):
                if message.get("method") == event:
                    del self.events[: index + 1]
                    return
            self.events.append(self._message(deadline))

    def report(self, page: Path) -> dict:
        """Open ``page`` from disk and return what a reader ends up with (see ``REPORT``)."""
        self.events.clear()
        self.send("Page.navigate", session=self.session, url=page.as_uri())
        self.wait_for("Page.loadEventFired")
        result = self.send("Runtime.evaluate", session=self.session, expression=REPORT, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{page}: {result['exceptionDetails']}")
        return json.loads(result["result"]["value"])

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
        self.profile.cleanup()


def pages(html: Path) -> list[Path]:
    """Every page of the built book (not the theme's static files)."""
    return sorted(p for p in html.rglob("*.html") if not {"_static", "_sources", "_images"} & set(p.relative_to(html).parts))


def redirect_target(page: Path) -> Path | None:
    """The page a ``<meta http-equiv="refresh">`` page (the book's ``index.html``) sends to."""
    found = re.search(r'http-equiv="refresh"[^>]*url=([^"\';>]+)', page.read_text(), re.IGNORECASE)
    return (page.parent / found.group(1)).resolve() if found else None


IMAGES = ("image/svg+xml", "image/png", "image/gif", "image/jpeg")
# MyST-NB's choice among an output's formats for HTML (myst_nb.core.render.base_render_priority)
PRIORITY = ("application/vnd.jupyter.widget-view+json", "application/javascript", "text/html", *IMAGES, "text/markdown", "text/latex", "text/plain")
GLUE_PREFIX = "application/papermill.record/"
REMOVED = {"remove-output", "remove-cell"}
GLUE_DIRECTIVE = re.compile(r"^[ \t>]*(?:`{3,}|:{3,})\{glue(?::figure|:any|:)?\}[ \t]+(\S+)", re.MULTILINE)
GLUE_ROLE = re.compile(r"\{glue(?::any|:)?\}`([^`]+)`")
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]+\)|<img\b", re.IGNORECASE)


def _text(source) -> str:
    return source if isinstance(source, str) else "".join(source)


def _renders_an_image(data: dict) -> bool:
    return next((mime for mime in PRIORITY if mime in data), None) in IMAGES


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def glued_images(notebook: dict) -> dict[str, bool]:
    """The keys a notebook glues an image under -> whether ``glue`` displayed it where it was made."""
    found = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            glue = output.get("metadata", {}).get("scrapbook")
            if glue is None:
                continue
            prefix = glue.get("mime_prefix", "")
            data = {key[len(prefix):]: value for key, value in output.get("data", {}).items() if key.startswith(prefix)}
            if _renders_an_image(data):
                found[glue["name"]] = not prefix and not REMOVED & _tags(cell)
    return found


def displayed_images(notebook: dict) -> int:
    """The image outputs a notebook's page shows where they were made (not glued out of sight)."""
    count = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code" or REMOVED & _tags(cell):
            continue
        for output in cell.get("outputs", []):
            prefix = output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
            count += not prefix and _renders_an_image(output.get("data", {}))
    return count


def markdown_of(source: Path) -> str:
    """The Markdown of a page's source: an ``.md`` file, or a notebook's shown Markdown cells."""
    text = source.read_text()
    if source.suffix != ".ipynb":
        return text
    cells = json.loads(text).get("cells", [])
    return "\n\n".join(_text(c.get("source", "")) for c in cells if c.get("cell_type") == "markdown" and "remove-cell" not in _tags(c))


def placed_figures(markdown: str) -> list[tuple[str | None, str]]:
    """The ``(notebook or None for this one, key)`` that ``{glue}`` directives and roles place."""
    placed = []
    for reference in [*GLUE_DIRECTIVE.findall(markdown), *GLUE_ROLE.findall(markdown)]:
        path, _, key = reference.rpartition("::")
        placed.append((path or None, key))
    return placed


def page_source(html: Path, page: Path) -> Path | None:
    """The source Sphinx copied for ``page`` (``_sources/<doc>.ipynb`` or ``.md``), if any."""
    doc = page.relative_to(html).with_suffix("")
    for suffix in (".ipynb", ".md"):
        for candidate in (html / "_sources" / f"{doc}{suffix}", html / "_sources" / f"{doc}{suffix}.txt"):
            if candidate.is_file():
                return candidate
    return None


def _notebook(path: Path, cache: dict[Path, dict]) -> dict:
    path = path.resolve()
    if path not in cache:
        cache[path] = json.loads(path.read_text()) if path.is_file() else {}
    return cache[path]


def expected_figures(html: Path, page: Path, cache: dict[Path, dict], shown: set[tuple[Path, str]]) -> int:
    """How many loaded images ``page`` must show (see the module docstring); adds each glued image
    it places to ``shown`` as (notebook, key)."""
    source = page_source(html, page)
    if source is None:
        return 0
    count = 0
    if source.suffix == ".ipynb":
        notebook = _notebook(source, cache)
        count += displayed_images(notebook)
        shown |= {(source.resolve(), key) for key, displayed in glued_images(notebook).items() if displayed}
    for path, key in placed_figures(markdown_of(source)):
        notebook_path = source if path is None else source.parent / path
        if key in glued_images(_notebook(notebook_path, cache)):
            count += 1
            shown.add((notebook_path.resolve(), key))
    return count


class _Anchors(HTMLParser):
    """The ``<a href>`` targets and the element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.ids.add(values[name])
        if tag == "a" and values.get("href"):
            self.links.append(html_text.unescape(values["href"]))


def anchors(page: Path, cache: dict[Path, _Anchors]) -> _Anchors:
    if page not in cache:
        parser = _Anchors()
        parser.feed(page.read_text(errors="replace"))
        cache[page] = parser
    return cache[page]


def broken_links(html: Path) -> list[str]:
    """Every internal ``<a href>`` of the book's pages whose page or anchor does not exist."""
    found, cache = [], {}
    for page in pages(html):
        for link in anchors(page, cache).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            name = str(page.relative_to(html))
            if not target.is_file():
                found.append(f"{name}: link to a missing file {link}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target, cache).ids:
                found.append(f"{name}: link to a missing anchor {link}")
    return found


def problems(name: str, report: dict) -> list[str]:
    """What a reader would see wrong on one page, each as ``page: problem``."""
    found = []
    for raw in RAW_TEX:
        if raw in report["prose"]:
            at = report["prose"].index(raw)
            found.append(f"{name}: raw TeX {raw!r} in the text: ...{report['prose'][max(0, at - 40):at + 40]!r}")
    found += [f"{name}: math not rendered by MathJax: {math!r}" for math in report["unrendered"]]
    found += [f"{name}: MathJax error: {error!r}" for error in report["errors"]]
    for text in REPRS:
        if text in report["text"]:
            at = report["text"].index(text)
            found.append(f"{name}: an object's repr in the text: ...{report['text'][max(0, at - 60):at + 20]!r}")
    found += [f"{name}: image does not load: {source}" for source in report["broken"]]
    if not report["h1"]:
        found.append(f"{name}: no h1")
    return found


def _unavailable(reason: str) -> None:
    """Skip, or fail where the caller requires the check (``AICSD_BROWSER_REQUIRED=1``, as in CI)."""
    if os.environ.get("AICSD_BROWSER_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        _unavailable(f"{CHROMIUM} not found (Debian: apt-get install chromium; or set CHROMIUM)")
    if not (HTML / "index.html").is_file():
        _unavailable(f"the book is not built in {HTML} (make reproduce PROFILE=smoke && make book)")
    chromium = Browser(shutil.which(CHROMIUM))
    yield chromium
    chromium.close()


def test_every_page_reads_as_rendered_text_with_math_images_and_a_title(browser):
    found, checked, figures, notebooks, shown = [], 0, 0, {}, set()
    for page in pages(HTML):
        name = str(page.relative_to(HTML))
        target = redirect_target(page)
        if target is not None:
            if not target.is_file():
                found.append(f"{name}: redirects to a missing page {target}")
            continue
        report = browser.report(page)
        found += problems(name, report)
        expected = expected_figures(HTML, page, notebooks, shown)
        if report["loaded"] < expected:
            found.append(f"{name}: {report['loaded']} loaded images for the {expected} figures its source shows")
        checked += 1
        figures += expected
    glued = {(path, key) for path, notebook in notebooks.items() if path.suffix == ".ipynb" for key in glued_images(notebook)}
    found += [f"{path.name}: figure {key!r} is glued but no page shows it" for path, key in sorted(glued - shown)]
    assert checked >= 10, f"only {checked} pages in {HTML}"
    assert not found, "\n".join(found)
    print(f"{checked} pages, {figures} figures, each a loaded image")


def test_every_internal_link_of_the_book_leads_to_a_page_and_anchor_that_exist():
    if not (HTML / "index.html").is_file():
        _unavailable(f"the book is not built in {HTML} (make book)")
    broken = broken_links(HTML)
    assert not broken, "\n".join(broken)


def test_math_is_typeset_offline_on_the_derivation_page(browser):
    page = HTML / "book" / "_chapters" / "01_icsd_derivation.html"
    if not page.is_file():
        pytest.skip(f"{page} not built")
    html = page.read_text()
    assert "MathJax" in html or "mathjax" in html
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', html, re.IGNORECASE)
    assert scripts and not any(s.startswith(("http:", "https:", "//")) for s in scripts), scripts
    report = browser.report(page)
    assert not report["unrendered"] and not report["errors"]
    assert report["h1"] and report["h1"][0].startswith("The ICSD loss")


def _output(data: dict, glued: str | None = None, shown: bool = False) -> dict:
    if glued is None:
        return {"output_type": "display_data", "data": data, "metadata": {}}
    prefix = "" if shown else GLUE_PREFIX
    return {"output_type": "display_data", "data": {prefix + k: v for k, v in data.items()}, "metadata": {"scrapbook": {"name": glued, "mime_prefix": prefix}}}


def test_figures_are_counted_from_the_notebook_and_the_markdown_that_places_them():
    png = {"image/png": "iVBOR", "text/plain": "<Figure>"}
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# T\n\n```{glue:figure} fig_a\n:name: a\nA.\n```\n\n:::{glue:figure} other.ipynb::fig_x\n:::\n"},
        {"cell_type": "code", "metadata": {}, "outputs": [_output(png), _output({"text/html": "<table>", **png}), _output(png, "fig_a"), _output({"text/plain": "1"}, "n")]},
        {"cell_type": "code", "metadata": {"tags": ["remove-output"]}, "outputs": [_output(png), _output(png, "fig_b")]},
        {"cell_type": "code", "metadata": {}, "outputs": [_output(png, "fig_c", shown=True)]},
        {"cell_type": "markdown", "metadata": {"tags": ["remove-cell"]}, "source": "```{glue} fig_b\n```"},
        {"cell_type": "markdown", "metadata": {}, "source": "Inline {glue}`fig_c` and {glue:text}`n:.2f`."},
    ]
    notebook = {"cells": cells}
    assert glued_images(notebook) == {"fig_a": False, "fig_b": False, "fig_c": True}
    assert displayed_images(notebook) == 2  # the plain figure, and fig_c displayed by glue; not the table
    markdown = "\n\n".join(_text(c["source"]) for c in cells if c["cell_type"] == "markdown" and "remove-cell" not in c["metadata"].get("tags", []))
    assert placed_figures(markdown) == [(None, "fig_a"), ("other.ipynb", "fig_x"), (None, "fig_c")]


def test_internal_links_to_missing_pages_or_anchors_are_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text('<a href="sub/page.html#there">ok</a><a href="https://x.org/y">out</a><a href="#top">top</a><p id="top"></p>')
    (tmp_path / "sub" / "page.html").write_text('<h1 id="there">x</h1><a href="../index.html#nowhere">bad anchor</a><a href="gone.html">bad page</a><a href="../_static/a.css">static</a>')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.css").write_text("")
    assert broken_links(tmp_path) == ["sub/page.html: link to a missing anchor ../index.html#nowhere", "sub/page.html: link to a missing file gone.html"]
