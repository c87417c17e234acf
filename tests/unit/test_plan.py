from netprobe.ramp.plan import RampPlan


def test_plan_reaches_target_in_about_ten_steps():
    plan = RampPlan.build(target=1000, step=None, maximum=100_000)
    assert list(plan) == list(range(100, 1001, 100))
    assert len(plan) == 10


def test_last_step_is_exactly_the_target():
    assert list(RampPlan.build(target=250, step=100, maximum=100_000)) == [100, 200, 250]


def test_small_target_takes_single_connection_steps():
    assert list(RampPlan.build(target=3, step=None, maximum=10)) == [1, 2, 3]


def test_open_ended_plan_stops_at_maximum():
    plan = RampPlan.build(target=None, step=None, maximum=2500)
    assert list(plan) == [1000, 2000, 2500]
    assert plan.goal == 2500
