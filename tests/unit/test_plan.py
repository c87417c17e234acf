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


def test_the_busiest_server_process_is_planned_for_not_the_average():
    """SO_REUSEPORT hands out connections by hash: shares spread like a binomial's, and the busiest must fit.

    A million over 51 processes planned at the mean (19,608 plus 64 fds) ran out at 999,959;
    dealt at random here, no process's share passes busiest_share in 20 tries.
    """
    import collections
    import random

    from netprobe.ramp.processes import busiest_share

    deal = random.Random(19)
    connections, processes = 100_000, 11
    bound = busiest_share(connections, processes)
    for _ in range(20):
        shares = collections.Counter(deal.randrange(processes) for _ in range(connections))
        assert max(shares.values()) <= bound
    assert connections / processes < bound < 1.1 * connections / processes
    assert busiest_share(1_000_000, 51) > 19_936 >= busiest_share(1_000_000, 53)  # a hard limit of 20,000


def test_local_clients_share_127_0_0_1_until_its_ports_run_short_then_take_addresses_of_their_own():
    from netprobe import platform
    from netprobe.ramp.processes import connections_per_source, local_sources
    from netprobe.sockets import local_source_ips

    per_source = connections_per_source()
    assert local_sources(4000, 2) == [[], []]  # a worker from 127.0.0.2 would meet redis's protected mode
    assert local_sources(None, 3) == [[], [], []]
    if per_source is None:
        assert local_sources(500_000, 2) == [[], []]  # no port range read here: one address, as before
        return
    assert per_source == platform.read_system_facts().port_count // 4
    assert local_sources(per_source, 2) == [[], []]
    if platform.can_bind_loopback_aliases():
        assert local_sources(per_source + 1, 2) == [["127.0.0.1"], ["127.0.0.2"]]
        assert local_sources(100, 2, asked=4) == [["127.0.0.1", "127.0.0.2"], ["127.0.0.3", "127.0.0.4"]]
    if platform.can_bind_loopback_aliases():
        spread = local_source_ips(3, each=2)
        assert spread == [["127.0.0.1", "127.0.0.2"], ["127.0.0.3", "127.0.0.4"], ["127.0.0.5", "127.0.0.6"]]
