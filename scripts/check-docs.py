#!/usr/bin/env python3
"""Checks that every relative link of the README and docs/ resolves: the file
exists, and an anchor (`page.md#section`) names one of its headings as
GitHub renders them. Also keeps the README a map: at most README_LINES lines.

Usage: check-docs.py [ROOT]; exits 1 naming each broken link.
"""
import re
import sys
from functools import cache
from pathlib import Path

README_LINES = 300
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def prose(text):
    """The lines of a Markdown text outside fenced code blocks."""
    inside = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            yield line


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"`|\*\*|\*|_(?=\W)|(?<=\W)_", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path):
    """The anchors of a page's headings (read once per page, however many links name it)."""
    seen, out = {}, set()
    for line in prose(path.read_text()):
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if not m:
            continue
        s = slug(m.group(1))
        n = seen.get(s, 0)
        out.add(s if n == 0 else f"{s}-{n}")
        seen[s] = n + 1
    return out


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    pages = [root / "README.md", root / "BENCHMARKS.md", *sorted((root / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for line in prose(page.read_text()):
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # http:, https:, mailto:
                file, _, anchor = target.partition("#")
                dest = (page.parent / file).resolve() if file else page
                where = f"{page.relative_to(root)}: ({target})"
                if not dest.exists():
                    broken.append(f"{where}: no file {file}")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    broken.append(f"{where}: {dest.relative_to(root)} has no heading #{anchor}")
    lines = len((root / "README.md").read_text().splitlines())
    if lines > README_LINES:
        broken.append(f"README.md: {lines} lines; keep it a map under {README_LINES} (depth goes to docs/)")
    for b in broken:
        print(b, file=sys.stderr)
    if broken:
        sys.exit(1)
    print(f"docs: {len(pages)} pages, every link resolves; README.md {lines} lines")


if __name__ == "__main__":
    main()
