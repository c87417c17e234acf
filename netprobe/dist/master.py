"""The master of a distributed ramp: waits for its workers, ramps the total over them, names the stop.

Started by ``netprobe ramp --workers N`` as ``python -m netprobe.dist.master`` with a JSON
request on stdin; prints JSON lines on stdout: ``{"listening": "HOST:PORT"}`` once workers can
connect, then ``{"result": <netprobe.ramp/1 with a "workers" list>}`` or
``{"error": "...", "exit": N}``. SIGINT or SIGTERM ends the ramp: the workers are told to close,
and the partial result is still printed.

A worker that stops answering (locust's heartbeat marks it missing) ends the ramp with
``worker_lost``: its share is never moved onto the others, as locust would do for its users.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any, Optional

from netprobe import __version__, platform
from netprobe.dist import import_locust
from netprobe.hostinfo import platform_info
from netprobe.models import Note, Peak, Prediction, RampResult, RampStep, StopInfo
from netprobe.ramp.plan import RampPlan
from netprobe.ramp.runner import step_latency, verdict
from netprobe.vocabulary import Message, Side, StopReason

WAIT_FOR_WORKERS = 60.0
STEP_GRACE = 10.0  # seconds a step may take beyond its verification timeout before workers count as stuck


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Master:
    """One distributed ramp: the workers, their answers, and the steps summed over them."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.workers: dict[str, dict[str, Any]] = {}  # id -> identity, plus "held", "failure", "by_step"
        self.replies: dict[str, dict[str, Any]] = {}
        self.interrupted = False
        self.mismatch: Optional[str] = None
        locust = import_locust()
        self.gevent = __import__("gevent")
        environment = locust.env.Environment(user_classes=[])
        host, port = request["bind"]
        self.runner = environment.create_master_runner(host, port)
        self.bind = f"{host}:{self.runner.server.port}"
        self.runner.register_message(Message.HELLO, self.on_hello)
        self.runner.register_message(Message.HELD, self.on_held)

    # --- messages

    def on_hello(self, environment: Any, msg: Any) -> None:
        identity = dict(msg.data)
        if identity.get("netprobe") != __version__:
            why = f"master runs netprobe {__version__}, worker {identity.get('id')} runs {identity.get('netprobe')}"
            self.runner.send_message(Message.REFUSE, {"why": why}, client_id=msg.node_id)
            self.mismatch = why
            return
        identity.update(held=0, failure=None, by_step=[])
        self.workers[msg.node_id] = identity

    def on_held(self, environment: Any, msg: Any) -> None:
        self.replies[msg.node_id] = msg.data

    # --- the ramp

    def lost(self) -> list[str]:
        """Workers locust's heartbeat marked missing, or that quit."""
        from locust.runners import STATE_MISSING

        present = {c.id: c for c in self.runner.clients.all}
        return [w for w in self.workers if w not in present or present[w].state == STATE_MISSING]

    def wait_for_workers(self) -> Optional[str]:
        count, wait = self.request["workers"], self.request.get("wait", WAIT_FOR_WORKERS)
        deadline = time.monotonic() + wait
        while len(self.workers) < count and not self.interrupted:
            if self.mismatch:
                return self.mismatch
            if time.monotonic() > deadline:
                return f"{len(self.workers)} of {count} workers connected to {self.bind} within {wait:g} s"
            self.gevent.sleep(0.1)
        return None

    def split(self, total: int) -> dict[str, int]:
        """Each worker's share of ``total``, as even as whole connections allow."""
        ids = sorted(self.workers)
        share, extra = divmod(total, len(ids))
        return {w: share + (1 if i < extra else 0) for i, w in enumerate(ids)}

    def run(self) -> RampResult:
        req = self.request
        started = time.monotonic()
        plan = RampPlan.build(req["to"], req.get("step"), req.get("max", 100_000))
        steps: list[RampStep] = []
        stop: Optional[StopInfo] = None
        for number, goal in enumerate(plan):
            if self.interrupted:
                stop = self._stop(StopReason.INTERRUPTED, Side.CLIENT, None, "interrupted by a signal", None)
                break
            shares = self.split(goal)
            self.replies = {}
            t0 = time.perf_counter()
            for worker, share in shares.items():
                self.runner.send_message(Message.HOLD, {"step": number, "goal": share, "host": req["target"][0],
                                                        "port": req["target"][1], "timeout": req["timeout"],
                                                        "verify": req["verify"]}, client_id=worker)
            lost = self._collect(number, req["timeout"] + STEP_GRACE)
            elapsed = time.perf_counter() - t0
            steps.append(self._step(elapsed, goal))
            if lost:
                names = ", ".join(self._name(w) for w in lost)
                stop = self._stop(StopReason.WORKER_LOST, Side.CLIENT, None,
                                  f"worker {names} stopped answering; its connections are not moved to the others",
                                  None)
                break
            if self.interrupted:
                stop = self._stop(StopReason.INTERRUPTED, Side.CLIENT, None, "interrupted by a signal", None)
                break
            stop = self._verdict_of_failures()
            if stop is not None:
                break
            if req.get("hold"):
                self.gevent.sleep(req["hold"])
        reached = sum(w["held"] for w in self.workers.values())
        if stop is not None:
            stop.at_connections = reached
        prediction = self._prediction()
        ok = stop is None and (req["to"] is None or reached >= plan.goal)
        config = {**{k: v for k, v in req.items() if k != "target"}, "target": f"{req['target'][0]}:{req['target'][1]}"}
        return RampResult(
            config=config, ok=ok, target=req["to"], reached=reached,
            peak=Peak(max((s.client_fds or 0 for s in steps), default=None), None,
                      max((s.client_rss or 0 for s in steps), default=None), None),
            stop=stop, predicted=prediction, verdict=verdict(req["to"], reached, stop, prediction, "workers"),
            steps=steps, platform=platform_info(),
            notes=[Note("workers", f"{len(self.workers)} workers, master at {self.bind}")],
            seconds=round(time.monotonic() - started, 3),
            workers=[{k: v for k, v in w.items()} for _, w in sorted(self.workers.items())],
        )

    def _collect(self, number: int, timeout: float) -> list[str]:
        """Wait for every worker's answer to step ``number``; return the workers lost meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            lost = self.lost()
            if lost:
                return lost
            done = all(self.replies.get(w, {}).get("step") == number for w in self.workers)
            if done:
                break
            if time.monotonic() > deadline:
                return [w for w in self.workers if self.replies.get(w, {}).get("step") != number]
            self.gevent.sleep(0.02)
        for worker, reply in self.replies.items():
            entry = self.workers[worker]
            entry["held"] = reply["held"]
            entry["by_step"].append(reply["held"])
            entry["fds"], entry["rss"] = reply["fds"], reply["rss"]
            if reply["failure"] and entry["failure"] is None:
                entry["failure"] = reply["failure"]
        return []

    def _step(self, elapsed: float, goal: int) -> RampStep:
        latencies = [x for r in self.replies.values() for x in r["latencies"]]
        p50, p99 = step_latency(latencies)
        held = sum(w["held"] for w in self.workers.values())
        previous = sum(w["by_step"][-2] if len(w["by_step"]) > 1 else 0 for w in self.workers.values())
        fds = [r["fds"] for r in self.replies.values() if r.get("fds") is not None]
        rss = [r["rss"] for r in self.replies.values() if r.get("rss") is not None]
        return RampStep(connections=held, client_fds=sum(fds) if fds else None, server_fds=None,
                        client_rss=sum(rss) if rss else None, server_rss=None, client_cpu=None, server_cpu=None,
                        p50_ms=p50, p99_ms=p99, seconds=round(elapsed, 4),
                        rate=round((held - previous) / elapsed, 1) if elapsed > 0 else 0.0)

    def _name(self, worker: str) -> str:
        w = self.workers.get(worker, {})
        return f"{worker} (host {w.get('host')}, pid {w.get('pid')})"

    def _verdict_of_failures(self) -> Optional[StopInfo]:
        """One worker's own limit is a client-side stop naming it; every worker failing is the server's."""
        failed = {w: e["failure"] for w, e in self.workers.items() if e["failure"]}
        if not failed:
            return None
        client_side = {w: f for w, f in failed.items() if f["side"] == Side.CLIENT}
        if client_side:
            worker, f = sorted(client_side.items())[0]
            message = (f"worker {self._name(worker)} met its own limit holding {f['held']:,} "
                       f"with {f['in_flight']:,} in flight: {f['message']}")
            return self._stop(StopReason(f["reason"]), Side.CLIENT, f["errno"], message, f["remedy"], worker)
        worker, f = sorted(failed.items())[0]
        every = "every worker" if len(failed) == len(self.workers) else f"{len(failed)} of {len(self.workers)} workers"
        message = f"{every} failed near {sum(e['held'] for e in self.workers.values()):,} in all: {f['message']}"
        return self._stop(StopReason(f["reason"]), Side.SERVER, f["errno"], message, f["remedy"], worker)

    def _stop(self, reason: StopReason, side: Side, errno: Optional[str], message: str, remedy: Optional[str],
              worker: Optional[str] = None) -> StopInfo:
        held = sum(w["held"] for w in self.workers.values())
        return StopInfo(reason=reason, side=side, errno=errno, message=message, at_connections=held,
                        client_fds=None, server_fds=None,
                        remedy=remedy or platform.remedy(reason, side, platform.fd_limits()[1]), worker=worker)

    def _prediction(self) -> Prediction:
        """The sum of what each worker can hold: its soft fd limit less its fds, and its ports."""
        ceilings = []  # (connections, the limit that binds them) per worker
        for w in self.workers.values():
            caps = []
            if w.get("soft_fds") is not None:
                caps.append((w["soft_fds"] - w.get("fds_at_start", 0), StopReason.FD_LIMIT))
            if w.get("ports") is not None:
                caps.append((w["ports"] * max(1, len(w.get("source_ips") or [])), StopReason.PORT_EXHAUSTION))
            if not caps:
                return Prediction("target", "workers", None, None, "a worker could not read its limits")
            ceilings.append(min(caps))
        total = sum(n for n, _ in ceilings)
        binding = min(ceilings)[1]  # the limit of the worker that holds the least: it binds first
        return Prediction("target", "workers", total, binding,
                          f"the sum over {len(self.workers)} workers of each one's own fd and port ceiling")

    def close(self) -> None:
        self.runner.send_message(Message.CLOSE)
        self.gevent.sleep(0.5)  # the workers close their connections
        self.runner.quit()


def main() -> int:
    request = json.loads(sys.stdin.readline())
    request["target"] = tuple(request["target"])
    request["bind"] = tuple(request["bind"])
    import_locust()
    import zmq.error
    from locust.exception import RPCError

    where = f"{request['bind'][0]}:{request['bind'][1]}"
    try:
        master = Master(request)
    except SystemExit:  # locust exits when the master port is busy
        _say({"error": f"cannot listen for workers on {where}: the port is busy", "exit": 2})
        return 2
    except (RPCError, zmq.error.ZMQError) as exc:
        _say({"error": f"cannot listen for workers on {where}: {exc}", "exit": 2})
        return 2

    def interrupt(*_: Any) -> None:
        master.interrupted = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        master.gevent.signal_handler(sig, interrupt)
    _say({"listening": master.bind})
    try:
        problem = master.wait_for_workers()
        if problem is not None:
            _say({"error": problem, "exit": 2 if master.mismatch else 1})
            return 2 if master.mismatch else 1
        result = master.run()
    finally:
        master.close()
    _say({"result": result.to_dict()})
    if result.stop is not None and result.stop.reason == StopReason.INTERRUPTED:
        return 130
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
