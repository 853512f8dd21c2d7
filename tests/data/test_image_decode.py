"""One picture → the uint8 C×H×W array a network reads: modes, orientation, crop and letterbox."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from designer.data.image_decode import ImageProblem, decode_image


def saved(tmp_path, image: Image.Image, name: str, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_a_picture_of_the_target_size_is_read_unchanged(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    path = saved(tmp_path, Image.fromarray(pixels, "L"), "digit.png")
    assert np.array_equal(decode_image(path, 1, 28, 28), pixels[np.newaxis])
    colour = np.random.default_rng(1).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    path = saved(tmp_path, Image.fromarray(colour, "RGB"), "colour.bmp")
    assert np.array_equal(decode_image(path, 3, 8, 9), colour.transpose(2, 0, 1))


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = saved(tmp_path, Image.fromarray(values), "deep.png")
    assert Image.open(path).mode.startswith("I")
    assert decode_image(path, 1, 1, 4)[0, 0].tolist() == [0, 1, 128, 255]


def test_transparency_becomes_black_for_rgba_grey_alpha_and_palettes(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (200, 100, 50, 255))
    rgba.putpixel((0, 0), (200, 100, 50, 0))
    rgba.putpixel((1, 0), (200, 100, 50, 128))
    pixels = decode_image(saved(tmp_path, rgba, "a.png"), 3, 4, 4)
    assert pixels[:, 0, 0].tolist() == [0, 0, 0]
    assert pixels[:, 0, 1].tolist() == [100, 50, 25]
    assert pixels[:, 1, 1].tolist() == [200, 100, 50]

    grey_alpha = Image.new("LA", (2, 1), (240, 0))
    grey_alpha.putpixel((1, 0), (240, 255))
    assert decode_image(saved(tmp_path, grey_alpha, "la.png"), 1, 1, 2)[0, 0].tolist() == [0, 240]

    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 255, 255, 10, 200, 30] + [0] * 762)
    palette.putpixel((1, 0), 1)
    palette.info["transparency"] = 0  # index 0, white, is transparent
    path = saved(tmp_path, palette, "p.png", transparency=0)
    assert decode_image(path, 3, 1, 2)[:, 0].T.tolist() == [[0, 0, 0], [10, 200, 30]]


def test_cmyk_and_one_bit_pictures_become_rgb_or_grey(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    red = decode_image(saved(tmp_path, cmyk, "red.jpg", quality=100), 3, 8, 8)
    assert red[0].min() > 230 and red[1].max() < 25 and red[2].max() < 25
    bits = Image.new("1", (3, 1), 0)
    bits.putpixel((2, 0), 1)
    assert decode_image(saved(tmp_path, bits, "bits.bmp"), 1, 1, 3)[0, 0].tolist() == [0, 0, 255]
    assert decode_image(saved(tmp_path, bits, "bits.png"), 3, 1, 3)[:, 0, 2].tolist() == [255, 255, 255]


def test_grey_from_colour_uses_luma(tmp_path):
    path = saved(tmp_path, Image.new("RGB", (2, 2), (255, 0, 0)), "red.png")
    assert decode_image(path, 1, 2, 2)[0, 0, 0] == 76  # 0.299 · 255


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    wide = np.zeros((20, 40), dtype=np.uint8)
    wide[:, :10] = 255  # white on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = saved(tmp_path, Image.fromarray(wide, "L"), "photo.jpg", exif=exif, quality=100)
    upright = decode_image(path, 1, 40, 20, "letterbox")[0]
    assert upright.shape == (40, 20)
    # Rotated clockwise, the stored left edge is now the top.
    assert upright[:8].mean() > 230 and upright[12:].mean() < 25


def stripes() -> Image.Image:
    """60×20: red, green, blue thirds from left to right."""
    pixels = np.zeros((20, 60, 3), dtype=np.uint8)
    pixels[:, :20, 0] = pixels[:, 20:40, 1] = pixels[:, 40:, 2] = 255
    return Image.fromarray(pixels, "RGB")


def test_centre_crop_fills_the_input_with_the_middle(tmp_path):
    cropped = decode_image(saved(tmp_path, stripes(), "s.png"), 3, 10, 10, "crop")
    # Scaled to 30×10, the middle 10×10 is the green third: no red, no blue, no black bars.
    assert cropped[1].min() > 200 and cropped[0].max() < 40 and cropped[2].max() < 40


def test_letterbox_keeps_the_whole_picture_between_black_bars(tmp_path):
    boxed = decode_image(saved(tmp_path, stripes(), "s.png"), 3, 12, 12, "letterbox")
    # Scaled to 12×4 in the middle rows 4..7; black above and below.
    assert boxed[:, :4].max() == 0 and boxed[:, 8:].max() == 0
    assert boxed[0, 5, 1] > 200 and boxed[1, 5, 6] > 200 and boxed[2, 5, 10] > 200


def test_a_large_jpeg_is_shrunk_while_decoding_and_matches_a_full_decode(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 2000, dtype=np.uint8), (1500, 1))
    path = saved(tmp_path, Image.fromarray(ramp, "L").convert("RGB"), "big.jpg", quality=95)
    fast = decode_image(path, 1, 30, 40).astype(int)
    full = np.asarray(Image.open(path).convert("L").resize((40, 30), Image.Resampling.BICUBIC), dtype=int)
    assert np.abs(fast[0] - full).max() <= 6


@pytest.mark.parametrize("content, reason", [
    (b"", "not a PNG, JPEG, BMP or WebP image"),
    (b"GIF89a" + bytes(40), "not a PNG, JPEG, BMP or WebP image"),  # a real format we do not read
    (b"\x89PNG\r\n\x1a\n" + bytes(30), "."),  # a PNG signature and garbage: any message
])
def test_files_that_are_not_our_images_raise_image_problem(tmp_path, content, reason):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(ImageProblem, match=reason):
        decode_image(path, 3, 8, 8)


def test_a_truncated_png_raises_image_problem(tmp_path):
    path = saved(tmp_path, Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)),
                 "whole.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ImageProblem):
        decode_image(cut, 3, 8, 8)
