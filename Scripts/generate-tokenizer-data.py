#!/usr/bin/env python3
"""Generates the tokenizer data that ships inside Sluice (run once; the output is committed).

Writes into Sources/CTokenizerData/data/:
  o200k_base.bin, cl100k_base.bin  compact vocabularies (rank order), lossless re-encodings of
                                   OpenAI's .tiktoken files (the tests rebuild the .tiktoken text
                                   and check its published SHA-256).
  scalar_classes.bin               a two-stage table: Unicode scalar -> pre-tokenizer class bits,
                                   pinned to Unicode 16.0 (what tiktoken 0.14's regex engine uses).

Usage: pip install unicodedata2==16.0.0
       python3 Scripts/generate-tokenizer-data.py PATH/TO/DIR/WITH/TIKTOKEN/FILES

Vocabulary format (little-endian):
  "SLTK" | u32 version=1 | u32 count | u32 total_bytes | u8 length[count] | bytes | 8 zero bytes
Class table format:
  "SLUC" | u32 version=1 | u32 unicode_major | u32 block_count | u16 stage1[0x1100] | u8 stage2[block_count*256]
"""
import base64
import hashlib
import os
import struct
import sys

import unicodedata2 as ud

EXPECTED = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

# Class bits; keep in sync with Sources/Tokenizer/ScalarClass.swift.
LETTER, UPPERISH, LOWERISH, NUMBER, SPACE, MARK, NEWLINE = 1, 2, 4, 8, 16, 32, 64

# Unicode White_Space (PropList.txt; unchanged since Unicode 6.3).
WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680} | set(range(0x2000, 0x200B)) | {
    0x2028, 0x2029, 0x202F, 0x205F, 0x3000}


def scalar_class(cp: int) -> int:
    if 0xD800 <= cp <= 0xDFFF:
        return 0
    cat = ud.category(chr(cp))
    bits = 0
    if cat in ("Lu", "Lt"):
        bits |= LETTER | UPPERISH
    elif cat == "Ll":
        bits |= LETTER | LOWERISH
    elif cat in ("Lm", "Lo"):
        bits |= LETTER | UPPERISH | LOWERISH
    elif cat in ("Mn", "Mc", "Me"):
        bits |= MARK | UPPERISH | LOWERISH
    elif cat in ("Nd", "Nl", "No"):
        bits |= NUMBER
    if cp in WHITE_SPACE:
        bits |= SPACE
    if cp in (0x0A, 0x0D):
        bits |= NEWLINE
    return bits


def write_vocab(src: str, dst: str, name: str) -> None:
    raw = open(src, "rb").read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != EXPECTED[name]:
        sys.exit(f"{src}: sha256 {digest} is not the published {EXPECTED[name]}")
    tokens = []
    for number, line in enumerate(raw.splitlines()):
        encoded, rank = line.split(b" ")
        if int(rank) != number:
            sys.exit(f"{src}:{number + 1}: rank {rank} is not dense")
        tokens.append(base64.b64decode(encoded))
    blob = b"".join(tokens)
    with open(dst, "wb") as out:
        out.write(b"SLTK" + struct.pack("<III", 1, len(tokens), len(blob)))
        out.write(bytes(len(t) for t in tokens))
        out.write(blob)
        out.write(b"\0" * 8)
    print(f"{dst}: {len(tokens)} tokens, {os.path.getsize(dst)} bytes")


def write_classes(dst: str) -> None:
    blocks, index, stage1 = [], {}, []
    for block in range(0x1100):
        data = bytes(scalar_class(block * 256 + i) for i in range(256))
        if data not in index:
            index[data] = len(blocks)
            blocks.append(data)
        stage1.append(index[data])
    major = int(ud.unidata_version.split(".")[0])
    with open(dst, "wb") as out:
        out.write(b"SLUC" + struct.pack("<III", 1, major, len(blocks)))
        out.write(struct.pack(f"<{len(stage1)}H", *stage1))
        out.write(b"".join(blocks))
    print(f"{dst}: Unicode {ud.unidata_version}, {len(blocks)} blocks, {os.path.getsize(dst)} bytes")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if not ud.unidata_version.startswith("16."):
        sys.exit(f"unicodedata2 {ud.unidata_version}: need 16.0 (pip install unicodedata2==16.0.0)")
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "Sources", "CTokenizerData", "data")
    for name in EXPECTED:
        write_vocab(os.path.join(sys.argv[1], f"{name}.tiktoken"), os.path.join(out, f"{name}.bin"), name)
    write_classes(os.path.join(out, "scalar_classes.bin"))


if __name__ == "__main__":
    main()
