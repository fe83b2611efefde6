"""The default cluster plan; stages with run-wide budgets override `Stage.cluster_plan`
(tests/distill/test_limits.py, tests/verify/test_judge_client.py), and no executor imports
a stage (tests/test_architecture.py)."""

from omr_data.stage import Stage


class _One(Stage):
    name = "one"
    max_workers = 1


def test_the_default_plan_respects_max_workers_and_the_unit_count(tmp_path):
    plan = Stage().cluster_plan(wanted=8, units=3, output=tmp_path)
    assert (plan.workers, plan.shared_limiter, plan.unit_config) == (3, None, None)
    assert _One().cluster_plan(wanted=8, units=3, output=tmp_path).workers == 1
