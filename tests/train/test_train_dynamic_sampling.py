"""DAPO dynamic sampling: groups whose raw accuracy is all equal leave the batch."""

from types import SimpleNamespace

import pytest
import torch
from dynamic_sampling import drop_uninformative_groups, informative_groups, make_trainer_class


def batch(n, length=3):
    return {"completion_mask": torch.ones(n, length, dtype=torch.long),
            "advantages": torch.linspace(-1, 1, n), "num_items_in_batch": torch.tensor(n * length)}


def test_groups_with_all_equal_accuracy_are_uninformative():
    acc = torch.tensor([1., 1., 1., 0., 0., 0., 1., 0., float("nan"), 1., 1., float("nan")])
    keep = informative_groups(acc, 3)
    assert keep.tolist() == [False] * 3 + [False] * 3 + [True] * 3 + [False] * 3


def test_dropped_groups_leave_the_loss_and_the_token_count():
    acc = torch.tensor([1., 1., 0., 1., 0., 0., 0., 0.])      # pairs: all-1, mixed, all-0, all-0
    out, metrics = drop_uninformative_groups(batch(8), acc, num_generations=2, process_index=0,
                                             gather=lambda t: t)
    keep = torch.tensor([0, 0, 1, 1, 0, 0, 0, 0], dtype=torch.bool)
    assert out["completion_mask"].sum(1).tolist() == [3 * int(k) for k in keep]
    assert (out["advantages"][~keep] == 0).all()
    assert (out["advantages"][keep] != 0).all()
    assert out["num_items_in_batch"].item() == 6
    assert metrics == {"dynamic_sampling/kept_groups_frac": 0.25,
                       "dynamic_sampling/dropped_groups": 3.0}


def test_each_process_masks_its_own_slice_of_the_gathered_batch():
    acc = torch.tensor([1., 1., 1., 0.])                       # rank 0: all-1, rank 1: mixed
    out, _ = drop_uninformative_groups(batch(2), acc, num_generations=2, process_index=1,
                                       gather=lambda t: t)
    assert out["completion_mask"].sum().item() == 6
    out, _ = drop_uninformative_groups(batch(2), acc, num_generations=2, process_index=0,
                                       gather=lambda t: t)
    assert out["completion_mask"].sum().item() == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_the_mask_mode_filters_on_the_accuracy_reward_not_the_shaped_one(monkeypatch, enabled):
    """The subclass hook, around a stubbed parent: format varies, accuracy does not."""
    from trl import GRPOTrainer

    cls = make_trainer_class()
    rewards = torch.tensor([[0., 1.], [0., 0.], [1., 1.], [0., 1.]])   # columns: acc, format
    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions",
                        lambda self, inputs: batch(4))
    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", lambda self, *a: rewards)
    trainer = cls.__new__(cls)
    trainer.__dict__.update(
        dynamic_sampling=enabled, dynamic_sampling_mode="mask", num_generations=2,
        dynamic_sampling_totals={"steps": 0, "rounds": 0, "generated_groups": 0,
                                 "kept_groups": 0, "masked_groups": 0},
        reward_func_names=["accuracy_reward", "format_reward"],
        model=SimpleNamespace(training=True),
        _metrics={"train": {"dynamic_sampling/kept_groups_frac": [],
                            "dynamic_sampling/dropped_groups": []}},
        accelerator=SimpleNamespace(process_index=0, gather=lambda t: t.reshape(1)))
    assert trainer._calculate_rewards(None, None, None, None) is rewards
    out = trainer._generate_and_score_completions([])
    if enabled:   # group 0: acc (0, 0) → dropped though its format differs; group 1 kept
        assert out["completion_mask"].sum(1).tolist() == [0, 0, 3, 3]
        assert out["num_items_in_batch"].item() == 6
        assert trainer._metrics["train"]["dynamic_sampling/kept_groups_frac"] == [0.5]
    else:
        assert out["completion_mask"].sum().item() == 12


def rollout(rows, prompt_width, completion_width):
    """What `_generate_and_score_completions` returns for `rows` (pixel values split per row,
    as `split_pixel_values_by_grid` leaves them): row r's tensors are filled with r."""
    n = len(rows)
    ids = torch.tensor(rows).unsqueeze(1)
    return {
        "prompt_ids": ids.repeat(1, prompt_width), "prompt_mask": torch.ones(n, prompt_width),
        "completion_ids": ids.repeat(1, completion_width),
        "completion_mask": torch.ones(n, completion_width, dtype=torch.long),
        "mm_token_type_ids": torch.cat([torch.ones(n, prompt_width, dtype=torch.long),
                                        torch.zeros(n, completion_width, dtype=torch.long)], 1),
        "advantages": ids.squeeze(1).float(), "num_items_in_batch": torch.tensor(0),
        "pixel_values": [torch.full((4, 3), float(r)) for r in rows],
        "image_grid_thw": [torch.tensor([[1, 2, 2]]) for _ in rows], "num_images": [1] * n,
        "old_per_token_logps": None}


def test_rows_of_rounds_with_different_widths_merge_padded_on_the_right_sides():
    from dynamic_sampling import merge_rows

    merged = merge_rows([(rollout([10, 11, 12, 13], 3, 2), [2, 3]),
                         (rollout([20, 21], 5, 4), [0, 1])], pad_token_id=-1)
    assert merged["prompt_ids"].tolist() == [[-1, -1, 12, 12, 12], [-1, -1, 13, 13, 13],
                                             [20] * 5, [21] * 5]         # left-padded
    assert merged["completion_ids"].tolist()[0] == [12, 12, -1, -1]    # right-padded
    assert merged["completion_mask"].sum(1).tolist() == [2, 2, 4, 4]
    assert merged["prompt_mask"].sum(1).tolist() == [3, 3, 5, 5]
    # image-token types: the prompt part lines up with the prompt ids, zeros after
    assert merged["mm_token_type_ids"].tolist()[0] == [0, 0, 1, 1, 1, 0, 0, 0, 0]
    assert [p[0, 0].item() for p in merged["pixel_values"]] == [12, 13, 20, 21]
    assert merged["advantages"].tolist() == [12, 13, 20, 21] and merged["num_images"] == [1] * 4
    assert merged["old_per_token_logps"] is None
    with pytest.raises(ValueError, match="cannot merge the batch key 'mystery'"):
        merge_rows([({**rollout([1], 1, 1), "mystery": torch.ones(1, 7)}, [0])], pad_token_id=0)


def resampling_trainer(monkeypatch, dataset, *, max_rounds=8):
    """The subclass around a stubbed parent: a row's accuracy is its dataset column `acc`."""
    from trl import GRPOTrainer
    from trl.trainer.utils import unsplit_pixel_values_by_grid

    def generate(self, inputs):              # widths differ by round, as real rounds do
        self._calculate_rewards(inputs, None, None, None)
        width = 2 + inputs[0]["id"] % 3
        return unsplit_pixel_values_by_grid(rollout([row["id"] for row in inputs], width, 3))

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", generate)
    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", lambda self, inputs, *a: torch.tensor(
        [[row["acc"], 1.0] for row in inputs]))
    cls = make_trainer_class()
    trainer = cls.__new__(cls)
    trainer.__dict__.update(
        dynamic_sampling=True, dynamic_sampling_mode="resample", num_generations=2,
        max_rounds=max_rounds, reward_func_names=["accuracy_reward", "format_reward"],
        model=SimpleNamespace(training=True), train_dataset=dataset,
        args=SimpleNamespace(seed=0), _refill_order=[], _refill_epoch=0,
        _tokenizer=SimpleNamespace(pad_token_id=0),
        dynamic_sampling_totals={"steps": 0, "rounds": 0, "generated_groups": 0,
                                 "kept_groups": 0, "masked_groups": 0},
        _metrics={"train": __import__("collections").defaultdict(list)},
        accelerator=SimpleNamespace(process_index=0, device="cpu",
                                    gather=lambda t: t.reshape(-1)))
    return trainer


def rows_of(prompt_id, accuracies):
    return [{"id": prompt_id * 10 + j, "acc": a} for j, a in enumerate(accuracies)]


def test_resampling_over_samples_until_every_group_varies_and_counts_the_cost(monkeypatch):
    # prompts 0-5: only 2 and 5 have varying accuracy; the first batch holds prompts 0 and 1
    varying = {2, 5}
    trainer = resampling_trainer(monkeypatch, [])
    refills = iter([[2, 3], [4, 5]])

    def refill(n_rows):
        rows = []
        for p in next(refills):
            rows += rows_of(p, [1.0, 0.0] if p in varying else [1.0, 1.0])
        return rows

    trainer._refill_rows = refill
    first = rows_of(0, [1.0, 1.0]) + rows_of(1, [0.0, 0.0])
    out = trainer._generate_and_score_completions(first)
    assert sorted(out["completion_ids"][:, 0].tolist()) == [20, 21, 50, 51]
    assert out["completion_mask"].sum().item() == 4 * 3 and out["num_items_in_batch"].item() == 12
    assert out["pixel_values"].shape == (16, 3)                # merged back for TRL
    assert trainer.dynamic_sampling_totals == {"steps": 1, "rounds": 3, "generated_groups": 6,
                                               "kept_groups": 2, "masked_groups": 0}
    assert trainer._metrics["train"]["dynamic_sampling/kept_groups_frac"] == [2 / 6]


def test_resampling_gives_up_after_max_rounds_and_masks_the_rest(monkeypatch):
    trainer = resampling_trainer(monkeypatch, [], max_rounds=2)
    trainer._refill_rows = lambda n: rows_of(7, [1.0, 1.0]) + rows_of(8, [0.0, 1.0])
    out = trainer._generate_and_score_completions(rows_of(0, [1.0, 1.0]) + rows_of(1, [0.0, 0.0]))
    assert out["completion_ids"][:, 0].tolist() == [80, 81, 0, 1]   # kept, then masked filler
    assert out["completion_mask"].sum(1).tolist() == [3, 3, 0, 0]
    assert out["advantages"][2:].abs().sum() == 0 and out["num_items_in_batch"].item() == 6
    assert trainer.dynamic_sampling_totals["masked_groups"] == 1


def test_refill_prompts_come_whole_and_repeated_from_a_seeded_sampler(monkeypatch):
    dataset = [{"prompt": i, "acc": 0.0, "id": i} for i in range(6)]
    trainer = resampling_trainer(monkeypatch, dataset)
    rows = trainer._refill_rows(6)
    assert len(rows) == 6 and [r["id"] for r in rows[::2]] == [r["id"] for r in rows[1::2]]
    more = trainer._refill_rows(6)
    assert {r["id"] for r in rows}.isdisjoint({r["id"] for r in more})   # one permutation
    again = resampling_trainer(monkeypatch, dataset)._refill_rows(6)
    assert [r["id"] for r in again] == [r["id"] for r in rows]


def test_when_no_round_varies_the_batch_is_filled_exactly_with_masked_groups(monkeypatch):
    trainer = resampling_trainer(monkeypatch, [], max_rounds=3)
    trainer._refill_rows = lambda n: rows_of(7, [1.0, 1.0]) + rows_of(8, [0.0, 0.0])
    out = trainer._generate_and_score_completions(rows_of(0, [1.0, 1.0]) + rows_of(1, [0.0, 0.0]))
    assert len(out["advantages"]) == 4 and out["completion_mask"].sum() == 0
    assert out["num_items_in_batch"].item() == 1          # loss 0 / 1, never 0 / 0
    assert trainer.dynamic_sampling_totals == {"steps": 1, "rounds": 3, "generated_groups": 6,
                                               "kept_groups": 0, "masked_groups": 2}
