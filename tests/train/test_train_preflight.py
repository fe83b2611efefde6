"""The pre-flight check finds each VLM data pitfall, says so, and fixes or drops the rows."""

import pytest
import vlm_data
from train_helpers import png
from vlm_data import PreflightError, load_published, preflight


def image(size=(40, 30)):
    return png((200, 10, 10), size)


def user(*parts):
    return {"role": "user", "content": [dict(p) for p in parts]}


IMG = {"type": "image", "text": None}


def text(s):
    return {"type": "text", "text": s}


def sft_dataset(rows):
    """rows: (id, n_placeholders, images, response)."""
    from datasets import Dataset, Features, Image, List, Value

    features = Features({
        "id": Value("string"), "source": Value("string"),
        "messages": List({"role": Value("string"),
                          "content": List({"type": Value("string"), "text": Value("string")})}),
        "images": List(Image())})
    return Dataset.from_list([
        {"id": rid, "source": "t", "images": images,
         "messages": [user(*[IMG] * n, text("What is shown?")),
                      {"role": "assistant", "content": [text(response)]}]}
        for rid, n, images, response in rows], features=features)


def rl_dataset(rows):
    """rows: (id, n_placeholders, images, question)."""
    from datasets import Dataset, Features, Image, List, Value

    features = Features({
        "id": Value("string"), "source": Value("string"),
        "prompt": List({"role": Value("string"),
                        "content": List({"type": Value("string"), "text": Value("string")})}),
        "images": List(Image()), "answer": Value("string"), "answer_type": Value("string"),
        "choices": List(Value("string")), "pass_rate": Value("float64")})
    return Dataset.from_list([
        {"id": rid, "source": "t", "images": images, "answer": "4", "answer_type": "number",
         "choices": None, "pass_rate": None, "prompt": [user(*[IMG] * n, text(question))]}
        for rid, n, images, question in rows], features=features)


def processor_tokens(processor, row, form):
    """What the processor really produces for a row: the ground truth for `length`."""
    from trl.data_utils import prepare_multimodal_messages

    conversation = row["messages"] if form == "sft" else row["prompt"]
    messages = prepare_multimodal_messages(conversation, images=row.get("images") or [])
    out = processor.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        add_generation_prompt=form == "rl")
    ids = out["input_ids"]
    return len(ids[0]) if isinstance(ids[0], list) else len(ids)


def test_published_datasets_pass_and_lengths_match_the_processor(hub, processor):
    for name, form in (("omr/sft-874k", "sft"), ("omr/rl-74k", "rl")):
        dataset = load_published(name, hub_dir=str(hub))
        out, report = preflight(dataset, processor, max_length=4096, max_pixels=50176)
        assert report.ok and report.kept == report.rows == len(dataset)
        for row in out.select(range(4)):
            assert row["length"] == processor_tokens(processor, row, form)


def test_placeholders_that_do_not_match_images_are_dropped(processor):
    dataset = sft_dataset([("ok", 1, [image()], "A"), ("two-for-one", 2, [image()], "A"),
                           ("no-placeholder", 0, [image()], "A")])
    out, report = preflight(dataset, processor, max_length=4096, max_pixels=50176)
    assert report.dropped == {vlm_data.PLACEHOLDER_MISMATCH: 2}
    assert report.examples[vlm_data.PLACEHOLDER_MISMATCH] == "two-for-one"
    assert out["id"] == ["ok"]
    with pytest.raises(PreflightError, match="image placeholders do not match images"):
        preflight(dataset, processor, max_length=4096, max_pixels=50176, on_problem="error")


def test_truncation_through_image_tokens_drops_the_row_but_a_cut_response_is_kept(processor):
    big = image((224, 224))   # 64 visual tokens
    dataset = sft_dataset([("short", 1, [big], "4"), ("long-answer", 1, [big], "x " * 200)])
    lengths = {r["id"]: r["length"] for r in preflight(dataset, processor, max_length=None,
                                                       max_pixels=50176)[0]}
    limit = lengths["short"] + 5           # after every image token, before the long answer ends
    out, report = preflight(dataset, processor, max_length=limit, max_pixels=50176)
    assert report.ok and report.warnings[vlm_data.RESPONSE_TRUNCATED] == 1
    with pytest.raises(PreflightError, match="2 × truncation would cut image tokens"):
        preflight(dataset, processor, max_length=50, max_pixels=50176)


def test_rl_prompts_over_max_prompt_length_are_dropped(processor):
    dataset = rl_dataset([("short", 1, [image()], "What is 2+2?"),
                          ("long", 1, [image()], "What is 2+2? " * 100)])
    out, report = preflight(dataset, processor, max_length=200, max_pixels=50176)
    assert report.dropped == {vlm_data.PROMPT_TOO_LONG: 1} and out["id"] == ["short"]
    assert report.examples[vlm_data.PROMPT_TOO_LONG] == "long"


def test_images_over_max_pixels_are_counted_and_budgeted(processor):
    dataset = rl_dataset([("big", 1, [image((640, 480))], "Q"),
                          ("small", 1, [image((40, 30))], "Q")])
    out, report = preflight(dataset, processor, max_length=4096, max_pixels=50176)
    assert report.warnings == {vlm_data.OVER_MAX_PIXELS: 1}
    big = out[0]
    # the processor downscales to the budget: at most 50176 / 28² = 64 visual tokens
    assert big["length"] == processor_tokens(processor, big, "rl")
    assert big["length"] - out[1]["length"] <= 64


def test_extreme_aspect_ratio_images_are_dropped(processor):
    dataset = rl_dataset([("strip", 1, [image((1, 300))], "Q"), ("ok", 1, [image()], "Q")])
    out, report = preflight(dataset, processor, max_length=4096, max_pixels=50176)
    assert report.dropped == {vlm_data.EXTREME_ASPECT: 1} and out["id"] == ["ok"]


def test_text_only_rows_among_image_rows_get_a_blank_image(hub, processor):
    dataset = load_published("omr/sft-874k", hub_dir=str(hub))
    out, report = preflight(dataset, processor, max_length=4096, max_pixels=50176)
    assert report.text_only_rows == 4 and report.warnings[vlm_data.TEXT_ONLY_MIXED] == 4
    assert "blank" in report.text_only_action
    assert all(len(images) >= 1 for images in out["images"])
    row = out[0]                                        # demo/0 had no image
    assert row["images"][0].size == (56, 56)
    user = next(t for t in row["messages"] if t["role"] == "user")   # after the system turn
    assert user["content"][0]["type"] == "image"
    assert row["length"] == processor_tokens(processor, row, "sft")
    kept, report = preflight(dataset, processor, max_length=4096, max_pixels=50176,
                             text_only="keep")
    assert sum(1 for images in kept["images"] if not images) == 4
    with pytest.raises(PreflightError, match="text-only rows are mixed"):
        preflight(dataset, processor, max_length=4096, max_pixels=50176, text_only="error")


def test_an_all_text_dataset_loses_its_images_column_so_trl_can_pack(processor):
    dataset = sft_dataset([("a", 0, [], "4"), ("b", 0, [], "5")])
    out, report = preflight(dataset, processor, max_length=4096, max_pixels=50176)
    assert "images" not in out.column_names and report.ok


def test_check_only_exits_nonzero_and_writes_the_report(hub, tmp_path, capsys):
    import json

    import sft

    argv = ["--tiny", "--hub-dir", str(hub), "--output-dir", str(tmp_path), "--check-only"]
    assert sft.main(argv) == 0
    assert sft.main(argv + ["--max-length", "20"]) == 1
    assert "truncation would cut image tokens" in capsys.readouterr().out
    report = json.loads((tmp_path / "preflight.json").read_text())
    assert report["dropped"][vlm_data.CUTS_IMAGE_TOKENS] == report["image_rows"] == 12
