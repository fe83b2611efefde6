"""DAPO dynamic sampling: groups whose raw accuracy is all equal leave the loss."""

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
def test_the_trainer_hook_filters_on_the_accuracy_reward_not_the_shaped_one(monkeypatch, enabled):
    """The subclass hook, around a stubbed parent: format varies, accuracy does not."""
    from trl import GRPOTrainer

    cls = make_trainer_class()
    rewards = torch.tensor([[0., 1.], [0., 0.], [1., 1.], [0., 1.]])   # columns: acc, format
    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions",
                        lambda self, inputs: batch(4))
    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", lambda self, *a: rewards)
    trainer = cls.__new__(cls)
    trainer.__dict__.update(
        dynamic_sampling=enabled, num_generations=2,
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
