"""The photo pipeline on real image bytes made with Pillow."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pytest
from PIL import ExifTags, Image

from backend.core.errors import ApiError
from backend.photos import pipeline


def jpeg_with_exif(size: tuple[int, int] = (4000, 3000), orientation: int = 6) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1] // 2))  # a marker: top-left blue
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestPhone"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:20 09:15:30"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 55.0, 48.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (117.0, 48.0, 36.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def encoded(fmt: str, size: tuple[int, int] = (800, 600), **options: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 40)).save(out, fmt, **options)
    return out.getvalue()


def test_a_12_megapixel_phone_photo_is_turned_upright_resized_and_stripped() -> None:
    result = pipeline.process(jpeg_with_exif())
    # Orientation 6 (rotate 90° clockwise): a 4000×3000 landscape becomes portrait.
    assert (result.width, result.height) == (1200, 1600)
    display = Image.open(io.BytesIO(result.display))
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert display.format == thumb.format == "JPEG"
    assert display.size == (1200, 1600) and max(thumb.size) == 320
    for served in (display, thumb):
        assert not served.getexif()
        assert "exif" not in served.info and "xmp" not in served.info
        assert "icc_profile" not in served.info
    assert b"TestPhone" not in result.display
    # After rotating clockwise, the blue top-left quarter is at the top right.
    pixel = display.getpixel((1100, 100))
    assert isinstance(pixel, tuple) and pixel[2] > 150
    assert result.captured_at == datetime.fromisoformat("2026-11-20T09:15:30+08:00")
    assert result.gps == (pytest.approx(30.93, abs=1e-6), pytest.approx(117.81, abs=1e-6))
    assert result.source_format == "JPEG"


@pytest.mark.parametrize(
    ("fmt", "options"), [("PNG", {}), ("WEBP", {"quality": 80}), ("HEIF", {"quality": 60})]
)
def test_png_webp_and_heic_are_accepted(fmt: str, options: dict[str, Any]) -> None:
    result = pipeline.process(encoded(fmt, **options))
    assert result.source_format == fmt
    assert (result.width, result.height) == (800, 600)
    assert result.captured_at is None and result.gps is None


def test_the_real_format_decides_not_the_name() -> None:
    with pytest.raises(ApiError) as gif:
        pipeline.process(encoded("GIF"))
    assert (gif.value.code, gif.value.status) == ("photo_format_unsupported", 415)
    with pytest.raises(ApiError) as text:
        pipeline.process(b"<html>not a photo.jpg</html>")
    assert (text.value.code, text.value.status) == ("photo_unreadable", 415)
    with pytest.raises(ApiError) as truncated:
        pipeline.process(jpeg_with_exif()[:5000])
    assert truncated.value.code == "photo_unreadable"


def test_files_over_15_mb_are_refused_before_decoding() -> None:
    with pytest.raises(ApiError) as big:
        pipeline.process(b"\xff\xd8" + b"\0" * (15 * 1024 * 1024))
    assert (big.value.code, big.value.status) == ("photo_too_large", 413)


def test_decompression_bombs_are_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 megapixels in a few kilobytes
    assert len(out.getvalue()) < 200_000
    with pytest.raises(ApiError) as bomb:
        pipeline.process(out.getvalue())
    assert bomb.value.code == "photo_decompression_bomb"
    assert bomb.value.fields == {"file": "photo_decompression_bomb"}


def test_the_pipeline_is_deterministic() -> None:
    data = encoded("PNG")
    assert pipeline.process(data).display == pipeline.process(data).display
