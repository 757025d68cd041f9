#!/usr/bin/env python3
"""Makes the decode_letterbox fuzz target's seeds from the test photos.

The photos themselves (tests/fixtures/) are up to 800 KB, which libFuzzer
gets through about 30 times a second. These are the same photos shrunk to a
few KB (four times the runs a second; the rest is the input tensor's fixed
cost), in every format and mode the photos exercise and a few more:

  astronaut.png / .jpg        RGB PNG, baseline JPEG
  chelsea-progressive.jpg     progressive JPEG
  coffee-rotated.jpg          pixels stored turned, EXIF Orientation 6
  coffee-restarts.jpg         restart markers inside the scan, 4:4:4
  camera.png / camera.jpg     greyscale PNG and JPEG
  camera-16bit.png            16-bit greyscale PNG
  motorcycle-palette.png      palette PNG with a transparent entry (tRNS)
  motorcycle-rgba.png         RGBA PNG
  chelsea-cmyk.jpg            CMYK JPEG
  chelsea-wide.jpg/.png       wider than the input: the downscaling resize

Run with the project's Python (scripts/python-env.sh); the bytes depend on
the Pillow version that requirements.txt pins. Their licences are those of
the photos they come from (tests/fixtures/README.md).
"""

from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "tests" / "fixtures"
OUT = HERE / "decode_letterbox"
EXIF_ORIENTATION = 0x0112


def photo(name: str, size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    with Image.open(FIXTURES / name) as img:
        return img.convert(mode).resize(size, Image.Resampling.BILINEAR)


def main():
    OUT.mkdir(exist_ok=True)
    astronaut = photo("astronaut.png", (32, 32))
    astronaut.save(OUT / "astronaut.png", optimize=True)
    astronaut.save(OUT / "astronaut.jpg", quality=90)

    photo("chelsea.png", (45, 30)).save(OUT / "chelsea-progressive.jpg", quality=85,
                                        progressive=True)

    with Image.open(FIXTURES / "coffee-rotated.jpg") as img:
        exif = img.getexif()
        assert exif.get(EXIF_ORIENTATION) == 6
        small = img.resize((20, 30), Image.Resampling.BILINEAR)
    small.save(OUT / "coffee-rotated.jpg", quality=90, exif=exif.tobytes())
    small.save(OUT / "coffee-restarts.jpg", quality=90, subsampling=0,
               restart_marker_blocks=1)

    camera = photo("camera.png", (32, 32), "L")
    camera.save(OUT / "camera.png", optimize=True)
    camera.save(OUT / "camera.jpg", quality=90)
    camera.convert("I;16").save(OUT / "camera-16bit.png")

    palette = photo("motorcycle-palette.png", (37, 25)).quantize(colors=16)
    palette.save(OUT / "motorcycle-palette.png", transparency=0)
    rgba = photo("motorcycle_left.png", (37, 25), "RGBA")
    rgba.putalpha(128)
    rgba.save(OUT / "motorcycle-rgba.png")

    photo("chelsea.png", (30, 20), "CMYK").save(OUT / "chelsea-cmyk.jpg", quality=85)
    wide = photo("chelsea.png", (600, 6))
    wide.save(OUT / "chelsea-wide.jpg", quality=80)
    wide.save(OUT / "chelsea-wide.png", optimize=True)

    for path in sorted(OUT.iterdir()):
        with Image.open(path) as img:
            print(f"{path.name}: {img.format} {img.mode} {img.size[0]}x{img.size[1]}, "
                  f"{path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
