"""DAPO's dynamic sampling for TRL's `GRPOTrainer`, which does not have it.

DAPO drops prompt groups whose completions are all right or all wrong: their advantages
carry no signal, yet with a token-level loss they still count in the normaliser and dilute
every other group. The filter looks at the *raw accuracy*, not the shaped reward: a group
that is all wrong but differs in format score would otherwise survive on format alone.

Where it hooks in (TRL 1.16, `trl/trainer/grpo_trainer.py`):

- `_calculate_rewards` returns the rewards of every function for the whole generation
  batch, gathered across processes. The subclass keeps that tensor; the accuracy reward
  is one of the functions, so its column is the raw accuracy.
- `_generate_and_score_completions` builds the batch (ids, masks, advantages,
  `num_items_in_batch`) before `_prepare_inputs` splits it into micro-batches. The
  subclass post-processes its output there: for completions of dropped groups it zeroes
  `completion_mask` and the advantage, and recomputes `num_items_in_batch` from the
  remaining tokens (what `loss_type="dapo"` divides by). That is the same mechanism TRL
  uses for `mask_truncated_completions`, so every later step (old/ref log-probs, the loss,
  the clip statistics) sees the groups as absent.

The groups are masked, not removed: removing rows would break the fixed micro-batch
split. DAPO also re-samples until the batch is full; this does not (the batch shrinks,
and `dynamic_sampling/kept_groups_frac` is logged so the effective size is visible).
"""

from __future__ import annotations

from typing import Any


def informative_groups(accuracy, num_generations: int):
    """Bool per completion: does its group's accuracy vary? (NaN = unscored, ignored)."""
    import torch

    groups = accuracy.view(-1, num_generations)
    finite = torch.isfinite(groups)
    high = torch.where(finite, groups, torch.full_like(groups, -float("inf"))).amax(dim=1)
    low = torch.where(finite, groups, torch.full_like(groups, float("inf"))).amin(dim=1)
    varies = (high - low) > 0
    return varies.repeat_interleave(num_generations)


def drop_uninformative_groups(output: dict, accuracy, *, num_generations: int,
                              process_index: int, gather) -> tuple[dict, dict]:
    """Mask this process's completions of groups with all-equal accuracy.

    `accuracy` covers the generation batch of all processes (as `_calculate_rewards`
    returns it); `gather` sums a scalar tensor over processes. Returns the updated output
    and metrics.
    """
    keep_all = informative_groups(accuracy, num_generations)
    local = output["completion_mask"].size(0)
    keep = keep_all[process_index * local:(process_index + 1) * local]
    keep = keep.to(output["completion_mask"].device)
    output = dict(output)
    output["completion_mask"] = output["completion_mask"] * keep.unsqueeze(1).to(
        output["completion_mask"].dtype)
    output["advantages"] = output["advantages"] * keep.to(output["advantages"].dtype)
    mask = output["completion_mask"]
    if "tool_mask" in output:
        mask = mask * output["tool_mask"]
    output["num_items_in_batch"] = gather(mask.sum())
    groups = keep_all.view(-1, num_generations)[:, 0]
    metrics = {"dynamic_sampling/kept_groups_frac": groups.float().mean().item(),
               "dynamic_sampling/dropped_groups": float((~groups).sum().item())}
    return output, metrics


def make_trainer_class(accuracy_reward_name: str = "accuracy_reward"):
    """`GRPOTrainer` subclass with `dynamic_sampling=True|False` (imported lazily)."""
    from trl import GRPOTrainer

    class OMRGRPOTrainer(GRPOTrainer):
        def __init__(self, *args: Any, dynamic_sampling: bool = False, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.dynamic_sampling = dynamic_sampling
            self._rewards_per_func = None
            if dynamic_sampling and accuracy_reward_name not in self.reward_func_names:
                raise ValueError(f"dynamic sampling filters on the '{accuracy_reward_name}' "
                                 f"reward; the reward functions are {self.reward_func_names}")

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._rewards_per_func = rewards
            return rewards

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            if not (self.dynamic_sampling and self.model.training):
                return output
            accuracy = self._rewards_per_func[:, self.reward_func_names.index(accuracy_reward_name)]
            output, metrics = drop_uninformative_groups(
                output, accuracy, num_generations=self.num_generations,
                process_index=self.accelerator.process_index,
                gather=lambda t: self.accelerator.gather(t).sum())
            for name, value in metrics.items():
                self._metrics["train"][name].append(value)
            return output

    return OMRGRPOTrainer
