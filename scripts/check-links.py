#!/usr/bin/env python3
"""Every relative link in the repository's Markdown files leads somewhere.

For each tracked *.md file: every [text](target) outside code, where target is not a web address,
must name an existing file or folder (relative to the file), and a #fragment must be a heading of
the target Markdown file (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens,
-1, -2… for repeats). Web addresses are not fetched: this machine has no internet.
Prints each broken link and `check-links: N links, N broken`; exits 1 if any is broken.
"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*```")


def prose_lines(text):
    """The lines outside fenced code blocks, with inline code removed."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, re.sub(r"`[^`]*`", "", line)


def anchors(path):
    seen, found = {}, set()
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not heading:
            continue
        slug = heading.group(1).replace("`", "").lower()
        slug = re.sub(r"[^\w\- ]", "", slug).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def main():
    files = subprocess.run(["git", "ls-files", "*.md", "**/*.md"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    files += subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "*.md"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    total, broken = 0, []
    for name in sorted(set(files)):
        source = ROOT / name
        for number, line in prose_lines(source.read_text()):
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue
                total += 1
                path, _, fragment = target.partition("#")
                resolved = (source.parent / path).resolve() if path else source
                if not resolved.exists():
                    broken.append(f"{name}:{number}: {target}: no such file")
                elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                    broken.append(f"{name}:{number}: {target}: no heading #{fragment} there")
    for line in broken:
        print(line)
    print(f"check-links: {total} links, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
