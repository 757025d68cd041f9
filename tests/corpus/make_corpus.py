#!/usr/bin/env python3
"""Makes the corpus of awkward and hostile images beside this file.

Each file is one input the detector must answer with a definite status (see
cases.tsv and README.md): the image formats and variants it must take, and
the broken, lying and oversized files it must refuse without falling over.

Run with the project's Python (scripts/python-env.sh):

    "$(bash scripts/python-env.sh)" tests/corpus/make_corpus.py

The output is the same bytes on every run: no clocks, no unseeded randomness,
fixed encoder settings. The bytes depend on the Pillow version (pinned in
scripts/requirements.txt) and, for the PNGs written here by hand, on zlib's.
"""

import hashlib
import struct
import sys
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
EXIF_ORIENTATION = 0x0112
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The files written, in order (their sums are printed at the end).
written: list[str] = []


def save(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)
    written.append(name)


# ---------------------------------------------------------------- PNG by hand
#
# Pillow writes neither 16-bit RGB nor interlaced PNGs, and refuses to write
# impossible ones; these do it chunk by chunk.


def chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def ihdr(width: int, height: int, bit_depth: int, colour_type: int, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type,
                                      0, 0, interlace))


def up_filtered(rows: np.ndarray) -> bytes:
    """Scanlines (rows of bytes, shape (h, row_bytes)) with PNG filter 2 (Up)."""
    rows = rows.astype(np.uint8)
    prev = np.vstack([np.zeros((1, rows.shape[1]), np.uint8), rows[:-1]])
    filtered = (rows.astype(np.int16) - prev) & 0xFF
    out = np.hstack([np.full((rows.shape[0], 1), 2, np.uint8), filtered.astype(np.uint8)])
    return out.tobytes()


def as_bytes(pixels: np.ndarray) -> np.ndarray:
    """(h, w, c) samples to (h, w * c * bytes per sample) big-endian bytes."""
    h = pixels.shape[0]
    if pixels.dtype == np.uint16:
        return pixels.astype(">u2").view(np.uint8).reshape(h, -1)
    return pixels.astype(np.uint8).reshape(h, -1)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
         (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_by_hand(pixels: np.ndarray, colour_type: int, interlaced: bool = False) -> bytes:
    """A PNG of (h, w, c) uint8 or uint16 samples; Adam7 when `interlaced`."""
    h, w = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    if interlaced:
        raw = b"".join(up_filtered(as_bytes(pixels[y0::dy, x0::dx]))
                       for x0, y0, dx, dy in ADAM7
                       if pixels[y0::dy, x0::dx].size)
    else:
        raw = up_filtered(as_bytes(pixels))
    return (PNG_SIGNATURE + ihdr(w, h, depth, colour_type, int(interlaced))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` RGB, with one empty IDAT:
    the shape of a decompression bomb, a few dozen bytes whatever it claims."""
    return (PNG_SIGNATURE + ihdr(width, height, 8, 2)
            + chunk(b"IDAT", bytes.fromhex("789c030000000001")) + chunk(b"IEND", b""))


def png_chunks(data: bytes):
    """(offset, kind, payload) of each chunk of a PNG."""
    at = len(PNG_SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        yield at, data[at + 4:at + 8], data[at + 8:at + 8 + length]
        at += 12 + length


# ---------------------------------------------------------------- JPEG surgery


def jpeg_segments(data: bytes):
    """(offset of the marker, marker code, payload) of each segment up to SOS."""
    at = 2
    while at < len(data):
        assert data[at] == 0xFF, f"no marker at {at}"
        code = data[at + 1]
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        yield at, code, data[at + 4:at + 2 + length]
        if code == 0xDA:
            return
        at += 2 + length


def segment(data: bytes, code: int) -> tuple[int, bytes]:
    return next((at, payload) for at, c, payload in jpeg_segments(data) if c == code)


def with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size."""
    at, _ = segment(jpeg, 0xC0)
    out = bytearray(jpeg)
    out[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(out)


# ---------------------------------------------------------------- the photos


def rgb(name: str) -> Image.Image:
    with Image.open(FIXTURES / name) as img:
        return img.convert("RGB")


def jpeg_bytes(img: Image.Image, **options) -> bytes:
    out = BytesIO()
    img.save(out, "JPEG", quality=85, **options)
    return out.getvalue()


def png_bytes(img: Image.Image, **options) -> bytes:
    out = BytesIO()
    img.save(out, "PNG", **options)
    return out.getvalue()


def mean_error(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a.convert("RGB"), np.float32)
                        - np.asarray(b.convert("RGB"), np.float32)).mean())


# How a viewer turns the stored pixels of each EXIF orientation upright is
# ImageOps.exif_transpose's; storing the upright photo under the inverse
# transform makes every orientation display the same photo.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def main():
    # The astronaut, scaled down into the top-left corner of a grey 3:2
    # canvas: a person whose box moves with every flip and turn, so a wrong
    # orientation or frame cannot give the same box.
    canvas = Image.new("RGB", (768, 512), (128, 128, 128))
    canvas.paste(rgb("astronaut.png").resize((340, 340), Image.Resampling.LANCZOS), (24, 24))
    # The photo of the JPEG variants, and a smaller one for the PNG variants
    # (photo PNGs are large).
    photo = canvas.resize((240, 160), Image.Resampling.LANCZOS)
    small = canvas.resize((192, 128), Image.Resampling.LANCZOS)
    small_px = np.asarray(small)

    # --- Images that must be taken (200).
    save("one-pixel.png", png_bytes(Image.new("RGB", (1, 1), (200, 120, 40))))
    save("one-pixel.jpg", jpeg_bytes(Image.new("RGB", (1, 1), (200, 120, 40))))
    # The longest side taken, 1 pixel across: the letterbox keeps a 1-pixel
    # row or column rather than scaling it to nothing.
    ramp = np.arange(16384, dtype=np.uint32) % 256
    line = np.stack([ramp, 255 - ramp, ramp // 2], axis=-1).astype(np.uint8)
    save("wide-16384x1.png", png_bytes(Image.fromarray(line[None, :, :])))
    save("tall-1x16384.png", png_bytes(Image.fromarray(line[:, None, :])))

    save("photo.png", png_bytes(small))
    # 16-bit samples whose low bytes are a pattern, not a copy of the high
    # bytes: a decoder that kept the low byte would see stripes, not a photo.
    ys, xs = np.mgrid[0:small.height, 0:small.width]
    low = ((xs * 7 + ys * 13) % 256).astype(np.uint16)
    deep = small_px.astype(np.uint16) * 256 + low[:, :, None]
    save("rgb16.png", png_by_hand(deep, colour_type=2))
    grey = np.asarray(small.convert("L")).astype(np.uint16) * 256 + low
    save("grey16.png", png_by_hand(grey[:, :, None], colour_type=0))
    save("palette.png", png_bytes(small.quantize(colors=256, dither=Image.Dither.NONE)))
    save("interlaced.png", png_by_hand(small_px, colour_type=2, interlaced=True))
    # Alpha from opaque (left) to fully transparent (right): the colours
    # under it are still the photo's.
    alpha = np.broadcast_to(np.linspace(255, 0, small.width).astype(np.uint8),
                            (small.height, small.width))
    save("rgba.png", png_by_hand(np.dstack([small_px, alpha]), colour_type=6))
    # Two frames: the default image (the photo) then the photo mirrored.
    flipped = small.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    save("animated.png", png_bytes(small, save_all=True, append_images=[flipped],
                                   duration=500, loop=0))

    save("photo.jpg", jpeg_bytes(photo))
    save("grey.jpg", jpeg_bytes(photo.convert("L")))
    save("cmyk.jpg", jpeg_bytes(photo.convert("CMYK")))
    for tag, stored_as in STORED_AS.items():
        stored = photo if stored_as is None else photo.transpose(stored_as)
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = tag
        name = f"exif-{tag}.jpg"
        save(name, jpeg_bytes(stored, exif=exif.tobytes()))
        with Image.open(HERE / name) as img:
            shown = ImageOps.exif_transpose(img)
        assert shown.size == photo.size, f"{name} displays as {shown.size}"
        # JPEG noise only; a wrong turn differs by tens of grey levels.
        err = mean_error(shown, photo)
        assert err < 4, f"{name} does not display upright (mean error {err:.1f})"

    # --- Sizes refused from the header (413), before any pixel is allocated.
    save("bomb-60000x60000.png", header_only_png(60000, 60000))
    # A whole, valid PNG: few pixels, but one side far past the limit.
    wide = np.broadcast_to(line[:1], (100000, 3))[None, :, :]
    save("wide-100000x1.png", png_bytes(Image.fromarray(np.ascontiguousarray(wide))))
    tiny_jpeg = jpeg_bytes(photo.resize((48, 32), Image.Resampling.LANCZOS))
    save("sof-60000x60000.jpg", with_frame_size(tiny_jpeg, 60000, 60000))
    save("sof-65535x1.jpg", with_frame_size(tiny_jpeg, 65535, 1))

    # --- Broken files (422).
    # IHDR 0x0, with valid CRCs and an empty (but valid) zlib stream.
    save("zero-0x0.png", PNG_SIGNATURE + ihdr(0, 0, 8, 2)
         + chunk(b"IDAT", zlib.compress(b"", 9)) + chunk(b"IEND", b""))
    save("sof-48x0.jpg", with_frame_size(tiny_jpeg, 48, 0))

    base_png = png_by_hand(np.asarray(small.resize((48, 32), Image.Resampling.LANCZOS)),
                           colour_type=2)
    idat_at, _, idat = next(c for c in png_chunks(base_png) if c[1] == b"IDAT")
    crc_at = idat_at + 8 + len(idat)
    bad_crc = bytearray(base_png)
    bad_crc[crc_at] ^= 0xFF
    save("bad-crc.png", bytes(bad_crc))
    noise = np.random.default_rng(2024).integers(0, 256, len(idat), np.uint8).tobytes()
    save("garbage-idat.png", base_png[:idat_at] + chunk(b"IDAT", noise)
         + base_png[crc_at + 4:])
    save("truncated.png", base_png[:len(base_png) * 6 // 10])
    # Everything after the IHDR chunk gone: no pixel data at all.
    save("no-idat.png", base_png[:len(PNG_SIGNATURE) + 25] + chunk(b"IEND", b""))

    # The scan's second half replaced by noise (without 0xFF, so the file's
    # structure stays whole and only the entropy-coded data is wrong).
    sos_at, sos = segment(tiny_jpeg, 0xDA)
    scan_start = sos_at + 2 + 2 + len(sos)
    scan_end = len(tiny_jpeg) - 2  # before EOI
    mid = (scan_start + scan_end) // 2
    scan_noise = np.random.default_rng(7).integers(0, 255, scan_end - mid, np.uint8).tobytes()
    save("garbage-scan.jpg", tiny_jpeg[:mid] + scan_noise + tiny_jpeg[scan_end:])
    # A Huffman table with three 1-bit codes, which cannot exist (there are
    # two); the total count of codes, and so the segment's length, is kept.
    dht_at, dht = segment(tiny_jpeg, 0xC4)
    counts = bytearray(dht[1:17])
    donor = next(i for i in range(15, -1, -1) if counts[i] >= 3)
    counts[donor] -= 3
    counts[0] += 3
    bad_dht = bytearray(tiny_jpeg)
    bad_dht[dht_at + 5:dht_at + 21] = counts
    save("bad-huffman.jpg", bytes(bad_dht))
    # The quantisation table's marker overwritten: the segments no longer
    # start with 0xFF.
    dqt_at, _ = segment(tiny_jpeg, 0xDB)
    bad_marker = bytearray(tiny_jpeg)
    bad_marker[dqt_at] = 0x00
    save("bad-marker.jpg", bytes(bad_marker))
    # No frame header at all: tables and a scan, but no size.
    sof_at, sof = segment(tiny_jpeg, 0xC0)
    save("no-sof.jpg", tiny_jpeg[:sof_at] + tiny_jpeg[sof_at + 4 + len(sof):])
    save("truncated.jpg", tiny_jpeg[:len(tiny_jpeg) * 6 // 10])

    total = 0
    for name in written:
        data = (HERE / name).read_bytes()
        total += len(data)
        print(f"{hashlib.sha256(data).hexdigest()}  {name}  ({len(data)} bytes)")
    print(f"{len(written)} files, {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
