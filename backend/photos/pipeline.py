"""The photo pipeline (Pillow): every uploaded photo is checked and normalised here.

- the real format decides (JPEG, PNG, WebP; HEIC/HEIF from iPhones through pillow-heif), never
  the file name or the declared content type;
- files over 15 MB and decompression bombs are refused;
- EXIF orientation is applied; a display copy (longest side 1600 px) and a thumbnail (320 px)
  are re-encoded as JPEG without EXIF/XMP/ICC metadata;
- the capture time and GPS position from EXIF are returned as evidence fields, never served.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from backend.core.errors import ApiError

register_heif_opener()

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 12 MP phone photo is 12 M; 50 M leaves room, refuses bombs
DISPLAY_SIDE = 1600
THUMB_SIDE = 320
ACCEPTED = {"JPEG", "PNG", "WEBP", "HEIF"}
JPEG_QUALITY = 85
CAPTURE_TZ = ZoneInfo("Asia/Shanghai")  # EXIF times carry no zone; phones here are on UTC+8


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes
    thumbnail: bytes
    width: int
    height: int
    source_format: str
    captured_at: datetime | None
    gps: tuple[float, float] | None  # (lat, lon)


def _refuse(code: str, status: int = 422) -> ApiError:
    return ApiError(code, status=status, fields={"file": code})


def _rational(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat_ref, lat = info[ExifTags.GPS.GPSLatitudeRef], info[ExifTags.GPS.GPSLatitude]
        lon_ref, lon = info[ExifTags.GPS.GPSLongitudeRef], info[ExifTags.GPS.GPSLongitude]
        to_deg = lambda dms: _rational(dms[0]) + _rational(dms[1]) / 60 + _rational(dms[2]) / 3600  # noqa: E731
        lat_deg = to_deg(lat) * (-1 if str(lat_ref).upper().startswith("S") else 1)
        lon_deg = to_deg(lon) * (-1 if str(lon_ref).upper().startswith("W") else 1)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180):
        return None
    return round(lat_deg, 7), round(lon_deg, 7)


def _captured_at(exif: Image.Exif) -> datetime | None:
    raw = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
        ExifTags.Base.DateTime
    )
    try:
        return datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(
            tzinfo=CAPTURE_TZ
        )
    except ValueError:
        return None


def _encode(image: Image.Image, side: int) -> tuple[bytes, tuple[int, int]]:
    """A JPEG no larger than side × side, with no EXIF, XMP or ICC data and no comment (COM)
    segment: Pillow writes the source's `info["comment"]` into the copy unless it is gone."""
    copy = image.copy()
    copy.info.clear()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), copy.size


def process(data: bytes) -> ProcessedPhoto:
    """Check and normalise one photo; raises ApiError with a stable code on bad input."""
    if len(data) > MAX_BYTES:
        raise _refuse("photo_too_large", 413)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data))
            source_format = str(opened.format)
            if source_format not in ACCEPTED:
                raise _refuse("photo_format_unsupported", 415)
            if opened.width * opened.height > MAX_PIXELS:
                raise _refuse("photo_decompression_bomb")
            exif = opened.getexif()
            if source_format == "JPEG":
                opened.draft("RGB", (DISPLAY_SIDE, DISPLAY_SIDE))  # decode at reduced scale
            image = ImageOps.exif_transpose(opened).convert("RGB")
        except ApiError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _refuse("photo_decompression_bomb") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise _refuse("photo_unreadable", 415) from exc
    display, (width, height) = _encode(image, DISPLAY_SIDE)
    thumbnail, _ = _encode(image, THUMB_SIDE)
    return ProcessedPhoto(
        display=display,
        thumbnail=thumbnail,
        width=width,
        height=height,
        source_format=source_format,
        captured_at=_captured_at(exif),
        gps=_gps(exif),
    )
