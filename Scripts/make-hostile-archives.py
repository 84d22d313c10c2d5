#!/usr/bin/env python3
"""Writes the ZIP-based documents the archive-limit figures are measured on (sluice extract FILE).

lying.docx: word/document.xml of 1 GiB deflated to about 1 MB, its headers claiming 2 MB.
deck.pptx:  4,000 slides, each with its relationships file (about 12,000 entries).

Usage: Scripts/make-hostile-archives.py OUT_DIR
"""
import os
import struct
import sys
import zipfile
import zlib

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def lying(path):
    head = f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>'.encode()
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    size = 1 << 30
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc = zlib.crc32(head)
    parts = [compressor.compress(head)]
    block = b"a" * (1 << 20)
    for _ in range(size >> 20):
        parts.append(compressor.compress(block))
        crc = zlib.crc32(block, crc)
    parts.append(compressor.compress(tail))
    crc = zlib.crc32(tail, crc)
    parts.append(compressor.flush())
    data = b"".join(parts)
    name = b"word/document.xml"
    claimed = 2 << 20
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc & 0xFFFFFFFF, len(data), claimed,
                        len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc & 0xFFFFFFFF, len(data),
                          claimed, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    with open(path, "wb") as out:
        out.write(local + data + central + end)


def deck(path):
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(1, 4001):
            archive.writestr(f"ppt/slides/slide{index}.xml",
                             f'<p:sld xmlns:p="{p}" xmlns:a="{a}"><p:cSld><p:spTree><p:sp><p:txBody>'
                             f"<a:p><a:r><a:t>Point {index}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree>"
                             "</p:cSld></p:sld>")
            archive.writestr(f"ppt/slides/_rels/slide{index}.xml.rels",
                             '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>')
            archive.writestr(f"ppt/notesSlides/notesSlide{index}.xml", "<p:notes/>")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    lying(os.path.join(out, "lying.docx"))
    deck(os.path.join(out, "deck.pptx"))
