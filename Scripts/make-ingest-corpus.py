#!/usr/bin/env python3
"""Builds the corpus for `sluice bench ingest`: real HTML pages and Word files from this machine.

    python3 Scripts/make-ingest-corpus.py /tmp/ingest-corpus [--html 1500] [--docx 40]

HTML: pages of the Rust standard library documentation installed with rustup (real, structured web
pages: headings, lists, tables, code, navigation and scripts). DOCX: one Word file per English man
page set (python-docx), with the page's sections as headings and its paragraphs as text.
Needs rustup's documentation (rust-docs component) and `pip install python-docx`.
"""
import argparse
import glob
import gzip
import hashlib
import os
import random
import re
import shutil

import docx


def html_pages(target, count):
    roots = glob.glob(os.path.expanduser("~/.rustup/toolchains/*/share/doc/rust/html"))
    pages = sorted(p for root in roots for p in glob.glob(os.path.join(root, "**", "*.html"), recursive=True))
    if len(pages) < count:
        raise SystemExit(f"found {len(pages)} Rust documentation pages, need {count}: rustup component add rust-docs")
    random.Random(7).shuffle(pages)
    os.makedirs(os.path.join(target, "html"), exist_ok=True)
    for page in pages[:count]:
        name = hashlib.sha1(page.encode()).hexdigest()[:12] + ".html"
        shutil.copyfile(page, os.path.join(target, "html", name))


def man_text(path):
    with gzip.open(path, "rt", errors="replace") as handle:
        text = handle.read()
    text = re.sub(r"\\f[BIRP]|\\\(..|\\-|\\&|\\e", "", text)
    sections, current = [], ("NAME", [])
    for line in text.splitlines():
        if line.startswith(".SH"):
            sections.append(current)
            current = (line[3:].strip().strip('"') or "SECTION", [])
        elif line.startswith(".") or line.startswith("'"):
            continue
        elif line.strip():
            current[1].append(line.strip())
    sections.append(current)
    return sections


def word_files(target, count):
    pages = sorted(glob.glob("/usr/share/man/man1/*.1.gz"))
    os.makedirs(os.path.join(target, "docx"), exist_ok=True)
    per_file = max(1, len(pages) // count)
    for index in range(count):
        document = docx.Document()
        for page in pages[index * per_file:(index + 1) * per_file]:
            document.add_heading(os.path.basename(page)[:-5], level=1)
            for title, lines in man_text(page):
                document.add_heading(title.title(), level=2)
                for start in range(0, len(lines), 6):
                    document.add_paragraph(" ".join(lines[start:start + 6]))
        document.save(os.path.join(target, "docx", f"doc{index}.docx"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--html", type=int, default=1500)
    parser.add_argument("--docx", type=int, default=40)
    arguments = parser.parse_args()
    html_pages(arguments.target, arguments.html)
    word_files(arguments.target, arguments.docx)
