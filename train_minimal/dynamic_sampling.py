"""DAPO's dynamic sampling for TRL's `GRPOTrainer`, which does not have it.

DAPO (Yu et al. 2025, sec. 3.2) over-samples: prompt groups whose completions are all right
or all wrong have zero advantage and carry no gradient, so it keeps generating and drops
those groups until the batch is full of groups whose accuracy varies. The filter looks at
the *raw accuracy*, not the shaped reward: a group that is all wrong but differs in format
score would otherwise survive on format alone. Two modes:

- `resample` (DAPO's definition, the default): generate a rollout batch, keep its informative
  groups, generate more batches of fresh prompts until every process holds a full batch of
  informative groups (or `max_rounds` batches were generated; then the remaining slots are
  filled with uninformative groups masked out of the loss, and counted). The cost is
  reported: `dynamic_sampling/generated_groups` vs `kept_groups` per step, and totals in
  `dynamic_sampling_totals` (gspo.py writes them to train_summary.json). This is why DAPO
  needs more rollouts than GRPO as accuracy rises.
- `mask`: one batch, uninformative groups masked (`completion_mask` and advantage zeroed,
  the token count that `loss_type="dapo"` divides by recomputed). Cheaper, but the batch
  shrinks as accuracy rises and a step can carry no gradient at all.

Where it hooks in (TRL 1.16, `trl/trainer/grpo_trainer.py`):

- `_calculate_rewards` returns the rewards of every function for the whole generation
  batch, gathered across processes. The subclass keeps that tensor; the accuracy reward
  is one of the functions, so its column is the raw accuracy.
- `_generate_and_score_completions(inputs)` generates, scores and builds the batch (ids,
  masks, advantages, `num_items_in_batch`, pixel values) before `_prepare_inputs` splits it
  into micro-batches. The subclass calls it once per round (fresh prompts drawn from the
  training set by its own seeded sampler), keeps whole groups by row, and merges the rounds
  into one batch of the original size (prompt ids re-padded on the left, completion-side
  tensors on the right, pixel values per row with TRL's `split_pixel_values_by_grid`).
  Advantages stay those of each group's own round (they are computed per group).
- Groups never straddle processes: the launch check requires each process's generation
  batch to hold whole groups (prompts per rollout batch divisible by the process count), so
  every process keeps and merges only its own rows; all processes run the same number of
  rounds (decided on gathered counts), since generation is collective.
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
    # a batch left with no tokens must not divide 0 by 0 in the loss (NaN gradients)
    output["num_items_in_batch"] = gather(mask.sum()).clamp(min=1)
    groups = keep_all.view(-1, num_generations)[:, 0]
    metrics = {"dynamic_sampling/kept_groups_frac": groups.float().mean().item(),
               "dynamic_sampling/dropped_groups": float((~groups).sum().item())}
    return output, metrics


PROMPT_SIDE = {"prompt_ids": None, "prompt_mask": 0}   # None: the pad token id
COMPLETION_SIDE = {"completion_ids": None, "completion_mask": 0, "old_per_token_logps": 0.0,
                   "ref_per_token_logps": 0.0, "sampling_per_token_logps": 0.0,
                   "tool_mask": 1, "importance_sampling_ratio": 0.0}
BOTH_SIDES = ("token_type_ids", "mm_token_type_ids")     # prompt part + completion part


def _pad(tensors: list, width: int, value, left: bool):
    import torch

    out = []
    for t in tensors:
        missing = width - t.size(1)
        if missing:
            filler = torch.full((t.size(0), missing), value, dtype=t.dtype, device=t.device)
            t = torch.cat([filler, t] if left else [t, filler], dim=1)
        out.append(t)
    return torch.cat(out, dim=0)


def merge_rows(parts: list[tuple[dict, list[int]]], *, pad_token_id: int) -> dict:
    """One batch from rows of several `_generate_and_score_completions` outputs.

    `parts`: (output with pixel values split per row, row indices to keep). Tensors are
    re-padded to the widest part; per-row lists are concatenated; `num_items_in_batch` is
    left to the caller (it must be gathered over processes). A key this function does not
    know fails loudly rather than be merged wrongly.
    """
    import torch

    parts = [(out, rows) for out, rows in parts if rows]
    first = parts[0][0]
    merged: dict = {}
    p_width = max(out["prompt_ids"].size(1) for out, _ in parts)
    c_width = max(out["completion_ids"].size(1) for out, _ in parts)
    for key in first:
        values = [out.get(key) for out, _ in parts]
        if key == "num_items_in_batch" or all(v is None for v in values):
            merged[key] = None if key != "num_items_in_batch" else first[key]
            continue
        picked = [v[rows] if isinstance(v, torch.Tensor) else [v[i] for i in rows]
                  for v, (_, rows) in zip(values, parts)]
        pad_value = PROMPT_SIDE.get(key, COMPLETION_SIDE.get(key))
        if pad_value is None and key in ("prompt_ids", "completion_ids"):
            pad_value = pad_token_id
        if key in PROMPT_SIDE:
            merged[key] = _pad(picked, p_width, pad_value, left=True)
        elif key in COMPLETION_SIDE:
            if all(t.dim() == 1 or t.size(1) == 1 for t in picked) and c_width > 1:
                merged[key] = torch.cat(picked, dim=0)       # sequence-level ratios
            else:
                merged[key] = _pad(picked, c_width, pad_value, left=False)
        elif key in BOTH_SIDES:
            widths = [out["prompt_ids"].size(1) for out, _ in parts]
            prompt = _pad([t[:, :w] for t, w in zip(picked, widths)], p_width, 0, left=True)
            completion = _pad([t[:, w:] for t, w in zip(picked, widths)], c_width, 0, left=False)
            merged[key] = torch.cat([prompt, completion], dim=1)
        elif isinstance(picked[0], list):
            merged[key] = [x for chunk in picked for x in chunk]
        elif isinstance(picked[0], torch.Tensor) and picked[0].dim() == 1:
            merged[key] = torch.cat(picked, dim=0)
        else:
            raise ValueError(f"dynamic sampling cannot merge the batch key {key!r} "
                             "(unknown to this TRL version's layout); use "
                             "--dynamic-sampling-mode mask")
    return merged


def _group_rows(groups: list[int], num_generations: int) -> list[int]:
    return [g * num_generations + j for g in groups for j in range(num_generations)]


def make_trainer_class(accuracy_reward_name: str = "accuracy_reward"):
    """`GRPOTrainer` subclass with DAPO dynamic sampling (imported lazily).

    Keyword arguments beyond GRPOTrainer's: `dynamic_sampling` (bool), `dynamic_sampling_mode`
    ("resample" or "mask"), `max_rounds` (rollout batches per step in resample mode), and
    `vllm_mm_processor_kwargs` (pixel bounds for a colocated vLLM engine, see
    `vllm_pixels.colocated_engine_kwargs`).
    """
    import warnings

    import trl
    from packaging.version import Version
    from trl import GRPOTrainer

    if not Version("1.16") <= Version(trl.__version__) < Version("1.17"):
        warnings.warn(f"dynamic_sampling.py overrides GRPOTrainer internals checked against TRL "
                      f"1.16; this is TRL {trl.__version__} (pip install 'trl>=1.16,<1.17')",
                      stacklevel=2)

    class OMRGRPOTrainer(GRPOTrainer):
        def __init__(self, *args: Any, dynamic_sampling: bool = False,
                     dynamic_sampling_mode: str = "resample", max_rounds: int = 8,
                     vllm_mm_processor_kwargs: dict | None = None, **kwargs: Any):
            from vllm_pixels import colocated_engine_kwargs

            if dynamic_sampling_mode not in ("resample", "mask"):
                raise ValueError(f"dynamic_sampling_mode must be resample or mask, got "
                                 f"{dynamic_sampling_mode!r}")
            if max_rounds < 1:
                raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
            with colocated_engine_kwargs(mm_processor_kwargs=vllm_mm_processor_kwargs):
                super().__init__(*args, **kwargs)
            self.dynamic_sampling = dynamic_sampling
            self.dynamic_sampling_mode = dynamic_sampling_mode
            self.max_rounds = max_rounds
            self.dynamic_sampling_totals = {"steps": 0, "rounds": 0, "generated_groups": 0,
                                            "kept_groups": 0, "masked_groups": 0}
            self._rewards_per_func = None
            self._refill_order: list[int] = []
            self._refill_epoch = 0
            if dynamic_sampling and accuracy_reward_name not in self.reward_func_names:
                raise ValueError(f"dynamic sampling filters on the '{accuracy_reward_name}' "
                                 f"reward; the reward functions are {self.reward_func_names}")

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._rewards_per_func = rewards
            return rewards

        def _accuracy(self):
            return self._rewards_per_func[:, self.reward_func_names.index(accuracy_reward_name)]

        def _log(self, metrics: dict) -> None:
            for name, value in metrics.items():
                self._metrics["train"][name].append(value)

        def _generate_and_score_completions(self, inputs):
            if not (self.dynamic_sampling and self.model.training):
                return super()._generate_and_score_completions(inputs)
            if self.dynamic_sampling_mode == "resample":
                return self._resample(inputs)
            output = super()._generate_and_score_completions(inputs)
            output, metrics = drop_uninformative_groups(
                output, self._accuracy(), num_generations=self.num_generations,
                process_index=self.accelerator.process_index,
                gather=lambda t: self.accelerator.gather(t).sum())
            totals = self.dynamic_sampling_totals
            groups = self._accuracy().numel() // self.num_generations
            totals["steps"] += 1
            totals["rounds"] += 1
            totals["generated_groups"] += groups
            totals["masked_groups"] += int(metrics["dynamic_sampling/dropped_groups"])
            totals["kept_groups"] += groups - int(metrics["dynamic_sampling/dropped_groups"])
            self._log(metrics)
            return output

        # -- resample mode ----------------------------------------------------------------

        def _refill_rows(self, n_rows: int) -> list[dict]:
            """`n_rows // G` fresh prompts, each repeated G times (as TRL's RepeatSampler
            lays them out), from a sampler seeded per process."""
            import torch

            prompts = []
            while len(prompts) < n_rows // self.num_generations:
                if not self._refill_order:
                    gen = torch.Generator().manual_seed(
                        self.args.seed + 7919 * self.accelerator.process_index
                        + 104729 * self._refill_epoch)
                    self._refill_order = torch.randperm(len(self.train_dataset),
                                                        generator=gen).tolist()
                    self._refill_epoch += 1
                prompts.append(self._refill_order.pop())
            rows = []
            for index in prompts:
                row = self.train_dataset[int(index)]
                rows.extend(dict(row) for _ in range(self.num_generations))
            return rows

        def _all(self, flag: bool) -> bool:
            import torch

            t = torch.tensor([0 if flag else 1], device=self.accelerator.device)
            return int(self.accelerator.gather(t).sum().item()) == 0

        def _sum(self, value: int) -> int:
            import torch

            t = torch.tensor([value], device=self.accelerator.device)
            return int(self.accelerator.gather(t).sum().item())

        def _resample(self, inputs):
            from trl.trainer.utils import split_pixel_values_by_grid, unsplit_pixel_values_by_grid

            G = self.num_generations
            n_local = len(inputs)
            if n_local % G:
                raise ValueError(f"DAPO re-sampling needs whole groups per process: {n_local} "
                                 f"rows is not a multiple of num_generations={G} (prompts per "
                                 "rollout batch must divide over the processes)")
            target = n_local // G
            start = self.accelerator.process_index * n_local
            kept, spare = [], []          # (split output, local group indices)
            n_kept = generated = rounds = 0
            batch = inputs
            while True:
                rounds += 1
                output = split_pixel_values_by_grid(super()._generate_and_score_completions(batch))
                keep = informative_groups(self._accuracy(), G)[start:start + n_local]
                by_group = keep.view(-1, G)[:, 0].tolist()
                informative = [g for g, k in enumerate(by_group) if k]
                take = informative[:target - n_kept]
                if take:
                    kept.append((output, take))
                    n_kept += len(take)
                if n_kept < target:
                    spare.append((output, [g for g, k in enumerate(by_group) if not k]))
                generated += self._accuracy().numel() // G
                if self._all(n_kept >= target) or rounds >= self.max_rounds:
                    break
                batch = self._refill_rows(n_local)
            masked, n_masked = [], 0
            for output, groups in spare:
                room = target - n_kept - n_masked
                if room <= 0:
                    break
                masked.append((output, groups[:room]))
                n_masked += len(groups[:room])
            parts = [(out, _group_rows(groups, G)) for out, groups in kept + masked]
            merged = merge_rows(parts, pad_token_id=self._tokenizer.pad_token_id)
            if n_masked:
                mask_from = n_kept * G
                for key in ("completion_mask", "tool_mask"):
                    if merged.get(key) is not None:
                        merged[key][mask_from:] = 0
                merged["advantages"][mask_from:] = 0
            loss_mask = merged["completion_mask"]
            if merged.get("tool_mask") is not None:
                loss_mask = loss_mask * merged["tool_mask"]
            merged["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum().clamp(
                min=1)      # all masked: loss 0, not 0/0
            kept_all, masked_all = self._sum(n_kept), self._sum(n_masked)
            totals = self.dynamic_sampling_totals
            totals["steps"] += 1
            totals["rounds"] += rounds
            totals["generated_groups"] += generated
            totals["kept_groups"] += kept_all
            totals["masked_groups"] += masked_all
            self._log({"dynamic_sampling/rounds": float(rounds),
                       "dynamic_sampling/generated_groups": float(generated),
                       "dynamic_sampling/kept_groups": float(kept_all),
                       "dynamic_sampling/masked_groups": float(masked_all),
                       "dynamic_sampling/kept_groups_frac": kept_all / max(generated, 1)})
            return unsplit_pixel_values_by_grid(merged)

    return OMRGRPOTrainer
