"""Decode one image file into the uint8 C×H×W array a network reads.

The one place that turns a person's picture into network input: image folders use it to
build their cache and ``predict`` uses it on a single file, so a prediction sees exactly
what training saw. numpy and Pillow only.

Choices (see README, "Image folders"):

- **Resize**: ``crop`` (default) scales the image so it covers H×W and cuts the centre;
  ``letterbox`` scales it to fit inside H×W and pads the rest with black. Crop is the
  default because the picture fills the whole input, and because letterbox bars whose
  size depends on each photo's aspect ratio are a cue a network can learn instead of the
  subject (all portrait photos in one class). Letterbox is for subjects that touch the
  edges, where a crop would cut them off.
- **Transparency** is composited onto black, the same black that letterbox bars and the
  augmentation's shifts fill with.
- **16-bit grey** is scaled to 8 bits (65535 → 255), not clipped.
- **EXIF orientation** (phone photos) is applied, so the network sees the photo upright.
- **Size limit**: an image with more pixels than Pillow's decompression-bomb limit
  (``Image.MAX_IMAGE_PIXELS``, about 89 megapixels) is refused before its pixels are
  decoded, so a hostile or absurd file never costs gigabytes of memory.
"""

from __future__ import annotations

import math
import re
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

RESIZE_MODES = ("crop", "letterbox")
DEFAULT_RESIZE = "crop"
#: what Image.open may identify a file as; anything else is "not an image we read"
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "WEBP")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
FORMATS_TEXT = "PNG, JPEG, BMP or WebP"

_GREY_16 = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = (5, 6, 7, 8)  # EXIF orientations that rotate by 90°


class ImageProblem(Exception):
    """One file that cannot become network input; the message is for a person."""


def check_target(channels: int, height: int, width: int, resize: str) -> None:
    if channels not in (1, 3):
        raise ValueError(f"images can be read as 1 (grey) or 3 (RGB) channels, not {channels}")
    if not (isinstance(height, int) and isinstance(width, int) and height >= 1 and width >= 1):
        raise ValueError(f"the image size must be whole numbers ≥ 1, not {height}×{width}")
    if resize not in RESIZE_MODES:
        raise ValueError(f"the resize mode must be one of {', '.join(RESIZE_MODES)}, not {resize!r}")


def decode_image(path, channels: int, height: int, width: int, resize: str = DEFAULT_RESIZE) -> np.ndarray:
    """uint8 array of shape (channels, height, width); raises ImageProblem for a file it cannot use."""
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            return _prepare(image, channels, height, width, resize)
    except ImageProblem:
        raise
    except Image.DecompressionBombError as error:
        # Raised by Image.open from the header alone (above 2× the limit); it names the size.
        found = re.search(r"\((\d+) pixels\)", str(error))
        raise ImageProblem(_too_large_text(None, int(found.group(1)) if found else None)) from None
    except UnidentifiedImageError:
        raise ImageProblem(f"not a {FORMATS_TEXT} image (or damaged)") from None
    except PermissionError:
        raise ImageProblem("permission denied") from None
    except IsADirectoryError:
        raise ImageProblem("a folder, not an image") from None
    except OSError as error:
        # Truncated data, a broken compressed stream, a symbolic-link loop, an I/O error.
        reason = error.strerror or str(error) or type(error).__name__
        raise ImageProblem(f"cannot be read ({_short(reason)})") from None
    except (ValueError, SyntaxError, EOFError, struct.error, MemoryError) as error:
        # Pillow's plugins raise these for malformed headers and chunks.
        raise ImageProblem(f"damaged ({_short(str(error) or type(error).__name__)})") from None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _too_large_text(size: tuple[int, int] | None, pixels: int | None = None) -> str:
    limit = Image.MAX_IMAGE_PIXELS
    if size:
        what = f"{size[0]:,}×{size[1]:,} pixels"
    else:
        what = f"{pixels:,} pixels" if pixels else "too many pixels"
    return (f"too large ({what}; the limit is {limit:,} pixels, Pillow's guard against "
            f"decompression bombs); shrink it first")


def _prepare(image: Image.Image, channels: int, height: int, width: int, resize: str) -> np.ndarray:
    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:
        # Image.open only warns between 1× and 2× the limit; refuse before any pixel is decoded.
        raise ImageProblem(_too_large_text(image.size))
    orientation = _orientation(image)
    shown_width, shown_height = ((image.height, image.width) if orientation in _SWAPS_AXES
                                 else (image.width, image.height))
    scale = _scale(shown_width, shown_height, width, height, resize)
    if image.format == "JPEG" and scale < 1:
        # Let the JPEG decoder itself shrink by 1/2, 1/4 or 1/8: a 12-megapixel photo then
        # decodes in a fraction of the time and memory, and resizing finishes the job.
        image.draft("RGB" if channels == 3 else "L",
                    (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    image = _working_mode(image)
    if orientation not in (None, 1):
        image = ImageOps.exif_transpose(image)
    image = _fit(image, width, height, resize)
    image = _flatten_alpha(image)
    target_mode = "L" if channels == 1 else "RGB"
    if image.mode != target_mode:
        image = image.convert(target_mode)  # RGB → L is ITU-R 601-2 luma
    array = np.asarray(image, dtype=np.uint8)
    if channels == 1:
        return array[np.newaxis].copy()
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(_ORIENTATION_TAG)
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not cost the picture
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _scale(source_width: int, source_height: int, width: int, height: int, resize: str) -> float:
    ratios = (width / source_width, height / source_height)
    return max(ratios) if resize == "crop" else min(ratios)


def _working_mode(image: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA: modes that resize correctly (alpha premultiplied) and convert simply."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode in _GREY_16:
        values = np.asarray(image).astype(np.int64)
        # 16-bit grey (0..65535) → 8 bits by rounding v·255/65535, which keeps 65535 white;
        # Pillow's own convert("L") would clip everything above 255 to white.
        grey = np.clip((values * 255 + 32767) // 65535, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L")
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    if mode == "1":
        return image.convert("L")
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "PA":
        return image.convert("RGBA")
    if mode in ("RGBa", "La"):
        return image.convert(mode.upper())  # un-premultiply: resize premultiplies again itself
    # CMYK (Pillow undoes Adobe's inverted CMYK while reading), YCbCr, LAB, HSV, RGBX, …
    return image.convert("RGB")


def _fit(image: Image.Image, width: int, height: int, resize: str) -> Image.Image:
    source_width, source_height = image.size
    if (source_width, source_height) == (width, height):
        return image
    scale = _scale(source_width, source_height, width, height, resize)
    if resize == "crop":
        box_width, box_height = width / scale, height / scale
        left, top = (source_width - box_width) / 2, (source_height - box_height) / 2
        return image.resize((width, height), Image.Resampling.BICUBIC,
                            box=(left, top, left + box_width, top + box_height), reducing_gap=3.0)
    inner = (max(1, min(width, round(source_width * scale))), max(1, min(height, round(source_height * scale))))
    resized = image.resize(inner, Image.Resampling.BICUBIC, reducing_gap=3.0)
    canvas = Image.new(resized.mode, (width, height))  # all zero: black, and transparent with alpha
    canvas.paste(resized, ((width - inner[0]) // 2, (height - inner[1]) // 2))
    return canvas


def _flatten_alpha(image: Image.Image) -> Image.Image:
    if image.mode not in ("LA", "RGBA"):
        return image
    values = np.asarray(image, dtype=np.uint16)
    alpha = values[..., -1:]
    colour = (values[..., :-1] * alpha + 127) // 255
    colour = colour.astype(np.uint8)
    if colour.shape[-1] == 1:
        return Image.fromarray(colour[..., 0], "L")
    return Image.fromarray(colour, "RGB")
