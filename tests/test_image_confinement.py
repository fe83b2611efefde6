"""Images are read from bytes or from regular files inside an image root, size- and
pixel-capped, decoded whole; every other case is a per-row reject (never opened, sent,
published or a crash). One helper, `omr_data.images`, serves every stage."""

import io
import os
import struct
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent / "sources"))
from source_helpers import png, read, write_image, write_parquet  # noqa: E402

from omr_data.images import ImageError, ImageRoots, decode, image_bytes  # noqa: E402
from omr_data.records import make_record  # noqa: E402


def _virl(tmp_path, images, name="39Krelease.parquet"):
    rows = [{"question": f"<image>Q{i}?", "answer": "\\boxed{3}", "qid": f"q{i}",
             "source": "MMK12", "category": "c", "PassRate_32BTrained": 1.0,
             "PassRate_7BBase": 1.0, "image": [img]} for i, img in enumerate(images)]
    return write_parquet(tmp_path / name, rows)


def _reasons(rejects):
    return [r["reason"] for r in rejects]


def _jpeg(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png_header(width, height) -> bytes:
    """A PNG that declares width x height (nothing decodable behind it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_paths_outside_the_root_are_never_opened(tmp_path):
    root = tmp_path / "root"
    write_image(root / "ok.png")
    secret = write_image(tmp_path / "outside" / "secret.png")
    (root / "link.png").symlink_to(secret)            # a symlink that leads out
    (root / "zero").symlink_to("/dev/zero")
    data = _virl(root, ["ok.png", "/etc/hostname", str(secret), "../outside/secret.png",
                        "link.png", "zero"])
    records, rejects = read("virl39k", data, image_root=root)
    assert list(records) == ["virl39k/q0"]
    assert _reasons(rejects) == [f"image path escapes image root: {p}" for p in
                                 ["/etc/hostname", str(secret), "../outside/secret.png",
                                  "link.png", "zero"]]


def test_a_symlinked_image_root_still_works(tmp_path):
    write_image(tmp_path / "real" / "a.png")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    assert ImageRoots([tmp_path / "alias"]).read("a.png") == png()


def test_only_regular_files_are_read_and_never_block(tmp_path):
    os.mkfifo(tmp_path / "fifo.png")                  # opening it for reading would block
    (tmp_path / "dir.png").mkdir()
    roots = ImageRoots([tmp_path])
    for name in ("fifo.png", "dir.png"):
        with pytest.raises(ImageError, match=f"^unreadable image: {name}: not a regular file"):
            roots.read(name)
    with pytest.raises(ImageError, match="not a regular file"):
        ImageRoots(["/dev"]).read("zero")             # a device inside a root: no MemoryError


def test_file_size_is_capped_before_reading(tmp_path):
    with open(tmp_path / "big.png", "wb") as fh:      # sparse: 200 MB that costs nothing
        fh.truncate(200 * 1024 * 1024)
    with pytest.raises(ImageError, match="^image too large: big.png: 209715200 bytes"):
        ImageRoots([tmp_path]).read("big.png")


def test_truncated_jpeg_is_a_reject_at_normalize(tmp_path):
    full = _jpeg((256, 256))
    (tmp_path / "cut.jpg").write_bytes(full[: len(full) // 2])
    Image.open(io.BytesIO(full[: len(full) // 2])).verify()   # verify() alone lets it pass
    (tmp_path / "ok.jpg").write_bytes(full)
    records, rejects = read("virl39k", _virl(tmp_path, ["ok.jpg", "cut.jpg"]))
    assert list(records) == ["virl39k/q0"]
    assert _reasons(rejects)[0].startswith("unreadable image: cut.jpg")


def test_max_pixels_downscales_at_normalize_and_huge_images_are_rejected(tmp_path):
    Image.new("RGB", (400, 300), "red").save(tmp_path / "wide.png")
    (tmp_path / "huge.png").write_bytes(_png_header(12_000, 12_000))   # 144 Mpx
    records, rejects = read("virl39k", _virl(tmp_path, ["wide.png", "huge.png"]),
                            max_image_pixels=30_000)
    img = Image.open(io.BytesIO(records["virl39k/q0"]["images"][0]["bytes"]))
    assert img.size[0] * img.size[1] <= 30_000 and abs(img.size[0] / img.size[1] - 4 / 3) < 0.02
    assert _reasons(rejects)[0].startswith("image too large: huge.png: 12000x12000")
    with pytest.raises(ImageError, match="^image too large"):
        decode(_png_header(12_000, 12_000), "x", max_pixels=1000, oversize="reject")


def test_a_144_mpx_image_is_never_published(tmp_path):
    from omr_data.publish.common import PublishError
    from omr_data.publish.forms import _published_images

    record = make_record(source="t", source_id="big", question="Q?", answer="1",
                         answer_type="number",
                         images=[{"bytes": _png_header(12_000, 12_000), "path": "big.png"}])
    with pytest.raises(PublishError, match="144000000 pixels"):
        _published_images(record)


def test_distill_and_judge_never_open_a_path_only_image(tmp_path):
    from omr_data.distill import distill
    from omr_data.distill.simulated import SimulatedServer
    from omr_data.verify.judge import JudgeRequest, build_messages

    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    records = [make_record(source="t", source_id=f"p{i}", question="Q?", answer="1",
                           answer_type="number", images=[{"bytes": None, "path": p}])
               for i, p in enumerate(["/etc/hostname", str(secret)])]
    with SimulatedServer(latency_s=0.001) as srv:
        rows = list(distill(records, {"teacher": "simulated", "base_urls": [srv.base_url],
                                      "n": 1, "progress": False}, tmp_path / "j.sqlite"))
        assert srv.requests == 0
    assert [r["reason"].split(":")[0] for r in rows] == ["missing image"] * 2
    messages = build_messages(JudgeRequest("Q?", "1", "1", [{"bytes": None,
                                                             "path": str(secret)}]),
                              send_images=True)
    assert all(part["type"] == "text" for part in messages[1]["content"])
    with pytest.raises(ImageError, match="^missing image"):
        image_bytes({"bytes": None, "path": str(secret)})


def test_an_absolute_path_inside_the_root_is_kept_relative(tmp_path):
    write_image(tmp_path / "imgs" / "a.png")
    records, _ = read("virl39k", _virl(tmp_path, [str(tmp_path / "imgs" / "a.png")]))
    assert records["virl39k/q0"]["images"][0]["path"] == "imgs/a.png"
