"""Judging a step: what the server and the kernel say of the held connections, and the stop it makes.

The engine (``runner``) opens, holds and records; this part settles each step's answers by
evidence (the sweep of closes, the server's account, the kernel's accept queues and sockets)
and names the stop from them. Both are one ramp's state: ``StepJudge`` is ``_Run``'s base.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from netprobe import platform
from netprobe.clients.holder import ConnectionHolder
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.watch import Sweep
from netprobe.models.ramp import StopInfo
from netprobe.ramp.budget import FdBudget
from netprobe.ramp.classify import Classified, ListenEvidence, classify_stop, refusal_of
from netprobe.ramp.evidence import QUEUE_GRACE, Unaccepted, listener_state, server_status, settled_unaccepted
from netprobe.ramp.sampler import Sample
from netprobe.ramp_spec import RampSpec
from netprobe.servers.handle import ServerHandle
from netprobe.servers.status import ServerStatus
from netprobe.stops import StopReason
from netprobe.vocabulary import ServerKind, Side, Verify


class Settled(NamedTuple):
    """A step's held connections once settled: what the sweep found, what the server left unaccepted, its account."""

    swept: Sweep
    pending: Optional[Unaccepted]
    status: Optional[ServerStatus]
    gone: Optional[str]
    held: int

    @property
    def broke(self) -> bool:
        """Whether the server said or showed that something stopped: a limit, its death, closes, refusals to accept."""
        limit = self.status.limit if self.status is not None else None
        return bool(self.gone is not None or limit is not None or self.swept.closed
                    or (self.pending is not None and self.pending.total))


# A server at its fd limit may keep a descriptor or two free (to accept and close, as nginx does).
TARGET_FD_SLACK = 2


class StepJudge:
    """Settles a step's evidence and names its stop; the ramp's engine is built on it."""

    spec: RampSpec
    server: Optional[ServerHandle]
    client: Optional[ConnectionHolder]
    budget: FdBudget
    not_accepted: int

    def _settle(self, out: BatchOutcome) -> Settled:
        """What the server and the kernel say of the held connections now, each answer awaited by evidence."""
        assert self.client is not None and self.server is not None
        grace = min(self.spec.timeout, QUEUE_GRACE)
        swept = self.client.sweep_until_quiet(grace, self._wait)
        pending = self.unaccepted(self.spec.timeout)
        if pending is not None and pending.dropped:
            # No socket at the server: dropped in its queue, or closed by it since the sweep. Sweep
            # again, so a close in flight is counted as the server's, not as a dropped handshake.
            late = self.client.sweep_until_quiet(grace, self._wait)
            if late.closed:
                swept.closed += late.closed
                swept.said = swept.said or late.said
                pending = self.unaccepted(self.spec.timeout)
        if swept.lost is not None and out.named is None:
            out.named = swept.lost  # a process holding connections was lost while the step settled
        # Ask the server after every step, not only after a failure: a connection it answered
        # at once and then had to shed (select's cap) looks verified from the client side.
        status, gone = server_status(self.server)
        self.not_accepted = pending.of_held if pending is not None else 0
        # The server's own count is exact where it has one; else what the client holds that it accepted.
        held = self.client.held - self.not_accepted
        if status is not None and status.limit is not None:
            held = min(self.client.held, status.limit.held)
        return Settled(swept, pending, status, gone, held)

    def _name_stop(self, failed: BatchOutcome, settled: Settled, last: Sample, overflows: Optional[int]) -> StopInfo:
        """The stop of a step: named from the server's account first, then what the holder saw."""
        assert self.server is not None
        swept, pending, status = settled.swept, settled.pending, settled.status
        unaccepted = pending.total if pending is not None else None
        evidence = ListenEvidence(listener_state(self.server.addresses), overflows,
                                  pending.dropped if pending is not None else 0)
        named = classify_stop(failed, status, settled.gone, self.spec.timeout, swept, unaccepted, settled.held,
                              evidence)
        named = self._at_target_fd_limit(named, last)
        stop = self._stop(named.reason, named.side, named.errno, named.message, last)
        stop.said, stop.unaccepted = swept.said, unaccepted or None
        refusal = refusal_of(swept, failed)
        if refusal is not None:
            stop.setting, stop.remedy = f"{refusal.server} {refusal.setting}", refusal.remedy
        elsewhere = failed.named  # named on the machine that met it: its remedy is that machine's
        if elsewhere is not None and elsewhere.reason == stop.reason:
            stop.remedy, stop.worker = elsewhere.remedy, elsewhere.worker
            stop.said, stop.setting = stop.said or elsewhere.said, stop.setting or elsewhere.setting
        if status is not None and status.limit is not None:
            stop.server_held = status.limit.held
        return stop

    def _at_target_fd_limit(self, named: Classified, last: Sample) -> Classified:
        """A target on this machine that stopped accepting with every fd of its soft limit open met its fd limit.

        At EMFILE a server's accept() fails and the connection waits in its queue: seen from the
        client it stopped accepting; its own fds (read from its process) say why.
        """
        assert self.server is not None
        soft, fds = self.server.soft_limit, last.server_fds
        if (named.reason != StopReason.STOPPED_ACCEPTING or self.server.kind != ServerKind.EXTERNAL
                or soft is None or fds is None or fds < soft - TARGET_FD_SLACK):
            return named
        return named._replace(reason=StopReason.FD_LIMIT, side=Side.SERVER,
                              message=f"{named.message}: {self.server.name} has {fds:,} fds open of its soft "
                                      f"limit {soft:,}")

    def unaccepted(self, timeout: float) -> Optional[Unaccepted]:
        """Connections the holder counts that the server has not accepted, once it had time to.

        Read from the kernel where this machine's kernel can tell (Linux sock_diag) and the server
        is on this machine; None where it cannot be known. A busy server accepts within moments:
        only what is still unaccepted after ``QUEUE_GRACE`` (or the timeout) counts. An external
        server is also matched connection by connection (netprobe's own accepts as it can).
        """
        assert self.server is not None and self.client is not None
        external = self.server.kind == ServerKind.EXTERNAL
        return settled_unaccepted(self.server.addresses, self.client.endpoints() if external else None,
                                  self.spec.verify != Verify.CONNECT, timeout, self._wait)

    def _wait(self, seconds: float) -> None:
        """Let ``seconds`` pass; an inline server (this thread) or the holder keeps working meanwhile."""
        assert self.server is not None and self.client is not None
        if self.server.step is not None:
            self.server.step(seconds)
        else:
            self.client.wait(seconds)

    def _stop(self, reason: StopReason, side: Side, errno_name: Optional[str], message: str,
              sample: Sample) -> StopInfo:
        return StopInfo(
            reason=reason, side=side, errno=errno_name, message=message,
            at_connections=self.client.held if self.client is not None else 0,
            client_fds=sample.client_fds, server_fds=sample.server_fds,
            remedy=platform.remedy(reason, side, self.budget.hard, self._soft_of(side),
                                   self.spec.backend.takes_selector or self.spec.target_address is not None),
        )

    def _soft_of(self, side: Side) -> Optional[int]:
        """The soft fd limit of the side that met a limit, where netprobe knows it."""
        kind = self.server.kind if self.server is not None else ServerKind.EXTERNAL
        if side == Side.SERVER and kind in (ServerKind.CHILD, ServerKind.GROUP, ServerKind.EXTERNAL):
            # A group's members share one; a target's is known where its one process could be read.
            return self.server.soft_limit if self.server is not None else None
        if side == Side.CLIENT or kind == ServerKind.IN_PROCESS:
            return platform.fd_limits()[0]
        return None
