"""Screenshots of the built book in headless Chromium: ``make screenshots``.

Opens the index page and the results pages of ``book/_build/html`` and writes PNGs to
``book/_build/screenshots/``. Needs Debian's ``chromium`` (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HTML = Path(__file__).resolve().parent / "_build" / "html"
PAGES = {  # page -> window height (px): down to the page's first figures
    "book/intro.html": 2400,
    "book/_chapters/04_main_results.html": 2400,
    "book/_chapters/05_ablations.html": 3200,
    "book/_chapters/01_icsd_derivation.html": 4400,
    "book/_chapters/06_qualitative.html": 4400,
}
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=20000",  # let MathJax typeset before the picture is taken
)


def screenshot(chromium: str, page: Path, output: Path, height: int) -> None:
    """Render ``page`` at 1280 x ``height`` into ``output`` (PNG)."""
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size=1280,{height}", f"--screenshot={output}", page.as_uri()]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not output.is_file():
        raise RuntimeError(f"chromium wrote no screenshot for {page}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chromium", default="chromium", help="Chromium executable")
    parser.add_argument("--html", type=Path, default=HTML, help="built book (jupyter-book build output)")
    parser.add_argument("--height", type=int, default=None, help="window height for every page (default: per page)")
    args = parser.parse_args(argv)
    if shutil.which(args.chromium) is None:
        print(f"{args.chromium} not found: install Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    missing = [page for page in PAGES if not (args.html / page).is_file()]
    if missing:
        print(f"pages missing in {args.html}: {missing}; run `make book` first", file=sys.stderr)
        return 1
    output = args.html.parent / "screenshots"
    output.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        target = output / (Path(page).stem + ".png")
        screenshot(args.chromium, args.html / page, target, args.height or PAGES[page])
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
