"""Benchmark: the visit photo pipeline on a 12-megapixel phone JPEG against a bare Pillow floor
measured in the same run, and RSS over 500 photos.

The floor does only the unavoidable work: open with draft mode, exif_transpose, resize to the
1600 px display copy and the 320 px thumbnail, save both as JPEG. The pipeline adds the format
and size checks, bomb refusal, EXIF capture time/GPS extraction and stripped re-encoding.

    run(small) -> {"name": {"value", "unit", "baseline", "ratio"}}
"""

from __future__ import annotations

import gc
import io
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from PIL import ExifTags, Image, ImageFilter, ImageOps


def phone_jpeg(size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A 12 MP JPEG that compresses like a photo (texture, not a flat colour), with the EXIF a
    phone writes: orientation, capture time, GPS."""
    w, h = size
    noise = Image.effect_noise((w // 4, h // 4), 40).resize(size, Image.Resampling.BILINEAR)
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
    image = image.filter(ImageFilter.SMOOTH)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:20 09:15:30"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 55.0, 48.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (117.0, 48.0, 36.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def floor(data: bytes) -> tuple[bytes, bytes]:
    """Bare Pillow: draft, exif_transpose, resize, save (display and thumbnail)."""
    opened = Image.open(io.BytesIO(data))
    opened.draft("RGB", (1600, 1600))
    image = ImageOps.exif_transpose(opened)
    outputs = []
    for side in (1600, 320):
        copy = image.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=85)
        outputs.append(out.getvalue())
    return outputs[0], outputs[1]


def _per_photo(fn: Callable[[bytes], Any], data: bytes, rounds: int) -> float:
    fn(data)  # warm up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(small: bool = False) -> dict[str, dict[str, float | str]]:
    from backend.photos import pipeline

    data = phone_jpeg()
    rounds = 3 if small else 10
    # Interleave so that both see the same machine state; medians, then the best pass.
    pipe, bare = [], []
    for _ in range(2 if small else 3):
        bare.append(_per_photo(floor, data, rounds))
        pipe.append(_per_photo(pipeline.process, data, rounds))
    pipe_s, bare_s = min(pipe), min(bare)

    photos = 30 if small else 500
    warm = 10 if small else 50
    gc.collect()
    rss_at_warm = 0.0
    for i in range(1, photos + 1):
        pipeline.process(data)
        if i == warm:
            gc.collect()
            rss_at_warm = rss_mb()
    gc.collect()
    growth = rss_mb() - rss_at_warm
    return {
        "visits_photo_12mp_ms": {
            "value": round(pipe_s * 1000, 1),
            "unit": "ms/photo",
            "baseline": round(bare_s * 1000, 1),
            "ratio": round(pipe_s / bare_s, 3),
        },
        f"visits_photo_rss_growth_{photos}": {
            "value": round(growth, 1),
            "unit": "MB",
            "baseline": round(rss_at_warm, 1),
            "ratio": round(growth / rss_at_warm, 3) if rss_at_warm else 0.0,
        },
        "visits_photo_12mp_input_mb": {
            "value": round(len(data) / 2**20, 2),
            "unit": "MB",
            "baseline": 15.0,
            "ratio": round(len(data) / 2**20 / 15.0, 3),
        },
    }


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    django.setup()
    for name, row in run(small=bool(os.environ.get("BENCH_SMALL"))).items():
        print(
            f"{name:32} {row['value']:>10} {row['unit']:10} "
            f"baseline {row['baseline']:>8}  x{row['ratio']}"
        )
