"""Text normalization and the guards that keep near-miss questions apart."""

from pathlib import Path

import numpy as np

from omr_data.dedup.text import guards, guards_agree, normalize, row_text


def same(q1, q2, c1=None, c2=None):
    t1, t2 = row_text(q1, c1), row_text(q2, c2)
    return normalize(t1) == normalize(t2)


def agree(q1, q2, c1=None, c2=None):
    return guards_agree(guards(row_text(q1, c1)), guards(row_text(q2, c2)))


def test_normalization_ignores_case_spacing_punctuation_prefixes_and_image_tokens():
    base = "Which year has the highest sales?"
    for variant in ("which year has the HIGHEST sales", "  Which  year has\nthe highest sales ?? ",
                    "Question: Which year has the highest sales?",
                    "Question 3: Which year has the highest sales?",
                    "<image>\nWhich year has the highest sales? <image>"):
        assert same(base, variant), variant


def test_option_numbering_and_inline_options_normalize_alike():
    q = "What is the length of AB?"
    assert same(q, q, ["3", "4"], ["(A) 3", "(B) 4"])
    assert same(q, q, ["3", "4"], ["A. 3", "B. 4"])
    assert same(q, q + "\nChoices:\n(A) 3\n(B) 4", ["3", "4"], None)


def test_numbers_are_canonical():
    assert normalize(row_text("Is 1,000 more than 2.0?", None)) == "is 1000 more than 2"


def test_guards_split_antonyms_numbers_letters_and_negation():
    assert not agree("Which year has the highest sales?", "Which year has the lowest sales?")
    assert not agree("What were the sales in 2010?", "What were the sales in 2011?")
    assert not agree("Where does the graph cross the x-axis?",
                     "Where does the graph cross the y-axis?")
    assert not agree("Is the point left of the line?", "Is the point right of the line?")
    assert not agree("What is the measure of angle ABC?", "What is the measure of angle ABD?")
    assert not agree("Which option is correct?", "Which option is not correct?")
    assert not agree("Did sales increase?", "Did sales decrease?")
    assert not agree("Pick one.", "Pick one.", ["10", "20"], ["10", "30"])


def test_guards_agree_on_rewording():
    assert agree("What is the value of the largest bar?", "What's the value of the largest bar?")
    assert agree("Find the longest side.", "Determine the longest side.")
    # wholesale case changes cannot hide letters: the letter guard is skipped for one-case text
    assert agree("What is the measure of angle ABC?", "what is the measure of angle abc?")


def test_month_weekday_and_colour_names_are_guards():
    assert not agree("What is the smallest value in the Jan column?",
                     "What is the smallest value in the Feb column?")
    assert not agree("How many red cells are there?", "How many blue cells are there?")
    assert not agree("Sales on Monday?", "Sales on Tuesday?")
    assert agree("What is the largest value in the Mar column?",
                 "In the March column, which value is the largest?")
    assert agree("Which cell is grey?", "Which cell is gray?")


def test_paraphrases_keep_their_guards_and_pass_the_text_threshold():
    """The compound-edit rows of the labelled set come with a paraphrased question: guards
    agree and the embedding cosine reaches the default `text_threshold`."""
    import dedup_labelled as L

    from omr_data.dedup.stage import DedupConfig
    from omr_data.dedup.text import TextEmbedder

    pairs = []
    for templates in L.QUESTIONS.values():
        for template, words in templates:
            slots = {k: v[0] for k, v in words.items()}
            slots.update(n=3, year=2012, month="Feb", p="ABC")
            pairs.append((template.format(**slots), L.PARAPHRASES[template].format(**slots)))
    for q, p in pairs:
        assert agree(q, p), (q, p)
    vectors = TextEmbedder(cache_dir=None).embed([t for pair in pairs for t in pair])
    cosines = (vectors[0::2] * vectors[1::2]).sum(axis=1)
    assert cosines.min() >= DedupConfig().text_threshold, min(zip(cosines, pairs))


def test_the_default_model_runs_in_numpy_on_the_cpu_as_sentence_transformers_does(tmp_path):
    """On the CPU the default model is computed in numpy (no torch import in the workers):
    the same embeddings as sentence-transformers' to float32 rounding, long texts
    truncated alike; a folder of another kind of model stays on sentence-transformers."""
    import json

    from sentence_transformers import SentenceTransformer

    from omr_data.dedup import bert_numpy
    from omr_data.dedup.text import load_model, resolve_model

    path, _ = resolve_model("")
    model = load_model("", "cpu")
    assert isinstance(model, bert_numpy.NumpyBertEncoder)
    texts = ["What is the value of the highest bar?", "  Which year had the LOWEST sales? "
             "(A) 2010 (B) 2011 ", "", "word " * 300, "Ünïcödé 中文", "x"]
    ours = model.encode(texts, batch_size=4, normalize_embeddings=True)
    ref = SentenceTransformer(path, device="cpu").encode(
        texts, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == ref.shape
    assert float(np.abs(ours - ref).max()) < 1e-5

    other = tmp_path / "cls-pooling"
    (other / "1_Pooling").mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "modules.json"):
        (other / name).write_text((Path(path) / name).read_text())
    (other / "model.safetensors").touch()
    (other / "1_Pooling" / "config.json").write_text(json.dumps(
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert bert_numpy.supports(path) and not bert_numpy.supports(other)
