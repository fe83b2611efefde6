import pytest

from omr_data.filters import FilterStage
from omr_data.records import load_meta, make_record
from omr_data.runner import run_stage
from omr_data.store import DatasetDir, write_dataset


def _traces(tmp_path, n_questions=3, n=8):
    rows = []
    for q in range(n_questions):
        for k in range(n):
            row = make_record(source="s", source_id=f"{q}#{k}", question="q", answer="1",
                              answer_type="number",
                              response="<think>" + "step " * (k * 5) + "</think><answer>1</answer>",
                              meta={"verify.pass_rate": q / 2})
            rows.append(row)
    return write_dataset(tmp_path / "in", rows, max_rows=7)


def _ids(path):
    return {r["id"] for r in DatasetDir(path).iter_rows(columns=["id"])}


def test_select_subsets_are_nested(tmp_path):
    src = _traces(tmp_path)
    subsets = {}
    for k in (1, 2, 4, 8):
        run_stage(FilterStage({"max_samples": k}), [src.path], tmp_path / f"x{k}", progress=False)
        subsets[k] = _ids(tmp_path / f"x{k}")
    assert [len(subsets[k]) for k in (1, 2, 4, 8)] == [3, 6, 12, 24]
    assert subsets[1] < subsets[2] < subsets[4] < subsets[8]


def test_difficulty_keeps_pass_rates_in_range_and_says_why(tmp_path):
    src = _traces(tmp_path)
    result = run_stage(FilterStage({"difficulty": "0.25:0.75"}), [src.path], tmp_path / "out",
                       progress=False)
    assert {r["id"].split("#")[0] for r in DatasetDir(tmp_path / "out").iter_rows()} == {"s/1"}
    assert result.manifest["reject_reasons"] == {"difficulty": 16}


def test_min_tokens_stores_the_score_in_meta(tmp_path):
    src = _traces(tmp_path, n_questions=1)
    run_stage(FilterStage({"min_tokens": 20}), [src.path], tmp_path / "out", progress=False)
    kept = list(DatasetDir(tmp_path / "out").iter_rows())
    assert kept and all(load_meta(r)["filter.tokens"] >= 20 for r in kept)
    rejected = list(DatasetDir(tmp_path / "out").iter_rejects())
    assert rejected and all(r["reason"].startswith("too short") for r in rejected)


def test_bad_difficulty_range_is_refused():
    import pytest

    from omr_data.stage import ConfigError
    with pytest.raises(ConfigError, match="LO:HI"):
        FilterStage({"difficulty": "easy"})


def test_sources_keeps_one_source_and_lists_the_rest_lightly(tmp_path):
    rows = [make_record(source=src, source_id=str(i), question="q", answer="1",
                        answer_type="number") for i in range(3) for src in ("a", "b")]
    src = write_dataset(tmp_path / "in", rows)
    run_stage(FilterStage({"sources": ["a"]}), [src.path], tmp_path / "out", progress=False)
    out = DatasetDir(tmp_path / "out")
    assert _ids(out.path) == {"a/0", "a/1", "a/2"}
    rejected = list(out.iter_rejects())
    assert {r["id"] for r in rejected} == {"b/0", "b/1", "b/2"}
    assert all(r["question"] is None and r["reason"].startswith("other source") for r in rejected)


# ---------------------------------------------------------------------------------------
# model-based filters: perplexity under a tiny causal LM built offline, and the scorer hook

FLUENT = ["the cat sat on the mat and the dog sat on the log",
          "the dog sat on the mat and the cat sat on the log",
          "the cat and the dog sat on the mat"]
GIBBERISH = ["log mat the on sat dog cat and the mat on on",
             "and and sat log the cat mat dog on the sat on",
             "mat dog log and sat on the the cat on and mat"]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A 1-layer GPT-2 with a BPE tokenizer trained here, fitted for a few steps on FLUENT
    so fluent traces get a lower perplexity than shuffled ones. No download, CPU only."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny_lm")
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(FLUENT + GIBBERISH + ["<think> </think> <answer> </answer>"],
                            trainers.BpeTrainer(vocab_size=120,
                                                special_tokens=["[UNK]", "[PAD]", "[EOS]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                        pad_token="[PAD]", eos_token="[EOS]")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=64,
                                       vocab_size=len(tokenizer)))
    batch = tokenizer(FLUENT, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _reference_perplexity(model_path, text):
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return math.exp(model(input_ids=ids, labels=ids).loss.item())


def _texts(tmp_path):
    rows = [make_record(source="s", source_id=f"{kind}{i}#0", question="q", answer="1",
                        answer_type="number", response=text)
            for kind, texts in (("fluent", FLUENT), ("gibberish", GIBBERISH))
            for i, text in enumerate(texts)]
    return write_dataset(tmp_path / "in", rows, max_rows=4)


def test_perplexity_is_stored_in_meta_and_the_threshold_decides(tmp_path, tiny_lm):
    src = _texts(tmp_path)
    scored = run_stage(FilterStage({"perplexity_model": tiny_lm, "perplexity_batch_size": 4}),
                       [src.path], tmp_path / "scored", progress=False)
    assert scored.manifest["rejected"] == 0  # without a threshold it only scores
    ppl = {r["id"]: load_meta(r)["filter.perplexity"]
           for r in DatasetDir(tmp_path / "scored").iter_rows()}
    fluent = [v for k, v in ppl.items() if "fluent" in k]
    gibberish = [v for k, v in ppl.items() if "gibberish" in k]
    assert max(fluent) < min(gibberish)
    # batched, padded scoring equals the model's own loss on each text alone
    assert ppl["s/fluent0#0"] == pytest.approx(_reference_perplexity(tiny_lm, FLUENT[0]),
                                               rel=1e-4)
    threshold = (max(fluent) + min(gibberish)) / 2
    run_stage(FilterStage({"perplexity_model": tiny_lm, "max_perplexity": threshold}),
              [src.path], tmp_path / "out", progress=False)
    out = DatasetDir(tmp_path / "out")
    assert {r["id"] for r in out.iter_rows()} == {f"s/fluent{i}#0" for i in range(3)}
    rejected = list(out.iter_rejects())
    assert len(rejected) == 3 and all(r["reason"].startswith("perplexity too high")
                                      for r in rejected)
    assert all(load_meta(r)["filter.perplexity"] > threshold for r in rejected)


def test_stored_perplexity_is_reused_when_only_the_threshold_changes(tmp_path, tiny_lm):
    src = _texts(tmp_path)
    run_stage(FilterStage({"perplexity_model": tiny_lm}), [src.path], tmp_path / "scored",
              progress=False)
    result = run_stage(FilterStage({"perplexity_model": tiny_lm, "max_perplexity": 1e9}),
                       [tmp_path / "scored"], tmp_path / "out", progress=False)
    assert result.manifest["stats"]["perplexity_reused"] == 6
    assert "perplexity_scored" not in result.manifest["stats"]
    assert result.manifest["rows"] == 6


def row_length_score(rows):
    """A scorer for the hook test: response length in characters, None without one."""
    return [len(r["response"]) if r.get("response") else None for r in rows]


def test_a_named_scorer_stores_its_score_and_thresholds_decide(tmp_path):
    src = _texts(tmp_path)
    result = run_stage(FilterStage({"scorer": "test_filters:row_length_score",
                                    "min_score": 45}),
                       [src.path], tmp_path / "out", progress=False)
    out = DatasetDir(tmp_path / "out")
    kept = list(out.iter_rows())
    assert kept and all(load_meta(r)["filter.score"] >= 45 for r in kept)
    assert all(load_meta(r)["filter.scorer"].startswith("test_filters:row_length_score@")
               for r in kept)
    rejected = list(out.iter_rejects())
    assert rejected and all(r["reason"].startswith("score too low") for r in rejected)
    assert result.manifest["rows"] + result.manifest["rejected"] == 6


def test_model_filter_configs_are_checked(tmp_path):
    from omr_data.stage import ConfigError
    with pytest.raises(ConfigError, match="perplexity_model"):
        FilterStage({"max_perplexity": 10})
    with pytest.raises(ConfigError, match="module:function"):
        FilterStage({"scorer": "not a function"})
    with pytest.raises(ConfigError, match="cannot import"):
        FilterStage({"scorer": "no_such_module_here:f"}).check_inputs([str(_texts(tmp_path).path)])
