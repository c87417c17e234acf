"""The prediction is pure arithmetic on facts, so every platform's case runs here."""

from netprobe.models import SelectorCap
from netprobe.prediction import Budget, CeilingInputs, predict, server_reserved_fds

RLIMIT = SelectorCap("rlimit", None, "")
FD_SETSIZE = SelectorCap("fd_number", 1024, "")
WINDOWS_SELECT = SelectorCap("count", 512, "")
BIG = 10**12


def _predict(selector, placement, cap, soft, system_free, ports, memory, reserved_fds, destinations=1,
             listeners_in_range=1):
    return predict(CeilingInputs(selector, placement, cap, Budget(soft, system_free, ports, memory),
                                 reserved_fds, destinations, listeners_in_range))


def test_select_binds_at_fd_setsize_with_one_fd_per_connection():
    p = _predict("SelectSelector", "process", FD_SETSIZE, 20000, BIG, 28232, BIG, reserved_fds=4)
    assert (p.max_connections, p.binding_limit) == (1020, "select_limit")


def test_select_in_one_process_costs_two_fds_per_connection():
    p = _predict("SelectSelector", "thread", FD_SETSIZE, 20000, BIG, 28232, BIG, reserved_fds=8)
    assert (p.max_connections, p.binding_limit) == (508, "select_limit")


def test_macos_default_soft_limit_binds_epoll_like_selectors():
    p = _predict("KqueueSelector", "process", RLIMIT, 256, BIG, 16384, BIG, reserved_fds=5)
    assert (p.max_connections, p.binding_limit) == (251, "fd_limit")


def test_windows_select_counts_sockets_not_fd_numbers():
    # No RLIMIT on Windows: soft is None, and the count cap binds.
    p = _predict("SelectSelector", "process", WINDOWS_SELECT, None, None, 16384, BIG, reserved_fds=0)
    assert (p.max_connections, p.binding_limit) == (511, "select_limit")


def test_ports_bind_when_the_fd_limit_is_high():
    p = _predict("EpollSelector", "process", RLIMIT, 1_000_000, BIG, 28232, BIG, reserved_fds=5)
    assert (p.max_connections, p.binding_limit) == (28231, "port_exhaustion")


def test_more_destinations_multiply_the_ports():
    p = _predict("EpollSelector", "process", RLIMIT, 1_000_000, BIG, 28232, BIG, reserved_fds=5,
                 destinations=4, listeners_in_range=4)
    assert (p.max_connections, p.binding_limit) == ((28232 - 4) * 4, "port_exhaustion")


def test_system_table_counts_both_ends_of_a_loopback_connection():
    p = _predict("EpollSelector", "process", RLIMIT, 1_000_000, 3000, 28232, BIG, reserved_fds=5)
    assert (p.max_connections, p.binding_limit) == (1500, "system_fd_limit")


def test_memory_binds_on_a_small_machine():
    p = _predict("EpollSelector", "process", RLIMIT, 1_000_000, BIG, 28232, 100 * 1024 * 1024, reserved_fds=5)
    assert p.binding_limit == "memory" and p.max_connections == 10240


def test_nothing_known_predicts_nothing():
    p = _predict("EpollSelector", "process", RLIMIT, None, None, None, None, reserved_fds=5)
    assert p.max_connections is None and p.binding_limit is None


def test_reserved_fds_of_a_child_server():
    assert server_reserved_fds("EpollSelector", "process", None) == 5  # stdio, epoll, listener
    assert server_reserved_fds("PollSelector", "process", None) == 4
    assert server_reserved_fds("SelectSelector", "thread", 10) == 12  # + listener + client selector


def test_a_thread_per_connection_server_meets_the_thread_limit_first():
    budget = Budget(1_000_000, BIG, 60000, BIG, threads=(32765, "vm.max_map_count 65530 (2 maps a thread stack)"))
    threaded = predict(CeilingInputs("threads", "process", RLIMIT, budget, 5, thread_per_connection=True))
    assert (threaded.max_connections, threaded.binding_limit) == (32765, "thread_limit")
    evented = predict(CeilingInputs("EpollSelector", "process", RLIMIT, budget, 5))
    assert evented.binding_limit == "port_exhaustion"  # an event loop starts no thread per connection


def test_thread_budget_takes_the_tightest_known_limit():
    from netprobe.platform import SystemFacts
    from netprobe.prediction import thread_budget

    assert thread_budget(SystemFacts(threads_max=192730, max_map_count=65530))[0] == 32765
    assert thread_budget(SystemFacts(threads_max=1000, max_map_count=65530))[0] == 1000
    assert thread_budget(SystemFacts()) is None
