#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the uncompressed ELF kernel held inside an x86 bzImage.

Usage: extract-vmlinux.py BZIMAGE OUT
QEMU boots the ELF through its PVH entry point, which skips the kernel's own
decompression (about 8 s under software emulation). Exit 1 if no ELF was found.
"""
import bz2
import lzma
import sys
import zlib

# (magic, decompressor factory) for the compressions Debian has used for x86 kernels.
KINDS = [
    (b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor()),
    (b"\x1f\x8b\x08", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    (b"BZh", lambda: bz2.BZ2Decompressor()),
]


def main():
    data = open(sys.argv[1], "rb").read()
    for magic, make in KINDS:
        pos = data.find(magic)
        while pos >= 0:
            try:
                out = make().decompress(data[pos:])
            except (lzma.LZMAError, zlib.error, OSError, ValueError, EOFError):
                out = b""
            if out[:4] == b"\x7fELF":
                with open(sys.argv[2], "wb") as f:
                    f.write(out)
                return 0
            pos = data.find(magic, pos + 1)
    return 1


if __name__ == "__main__":
    sys.exit(main())
