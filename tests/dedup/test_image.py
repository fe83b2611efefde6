"""Image evidence: border trimming, pHash stability, and the finer comparison."""

import random

from PIL import ImageOps

from omr_data.dedup.image import (decode_gray, fine_features, fine_score, hamming,
                                  image_signature, trim_borders)
from omr_data.dedup.labelled import encode, random_spec, render, transform


def figure(kind="bar", seed=0):
    rng = random.Random(seed)
    spec = random_spec(rng, kind)
    return spec, render(spec), rng


def test_trim_removes_padding_and_blank_margins():
    _, img, _ = figure()
    plain = trim_borders(decode_gray(encode(img)))
    for fill in ("black", "white", (200, 200, 200)):
        padded = ImageOps.expand(img, border=25, fill=fill)
        trimmed = trim_borders(decode_gray(encode(padded)))
        assert abs(trimmed.size[0] - plain.size[0]) <= 2 and abs(trimmed.size[1] - plain.size[1]) <= 2


def test_phash_is_stable_under_borders_reencoding_and_grayscale():
    _, img, rng = figure("geometry", 1)
    _, base = image_signature(encode(img))
    for how in ("border", "jpeg_q90", "grayscale", "contrast"):
        _, other = image_signature(transform(img, how, rng))
        assert hamming(base, other) <= 8, how


def test_undecodable_image_keeps_its_byte_hash():
    digest, phash = image_signature(b"not an image")
    assert phash is None and len(digest) == 12


def test_fine_score_accepts_transformed_copies_and_rejects_other_figures():
    spec, img, rng = figure("bar", 2)
    a = fine_features(encode(img))
    assert fine_score(a, a) == 1.0
    for how in ("jpeg_q60", "border", "grayscale", "crop", "brightness"):
        assert fine_score(a, fine_features(transform(img, how, rng))) >= 0.85, how
    other = fine_features(encode(render(random_spec(rng, "bar"))))
    assert fine_score(a, other) < 0.85
    redrawn = fine_features(encode(render({**spec, "values": [v + 15 for v in spec["values"]]})))
    assert fine_score(a, redrawn) < 0.85
