"""Several cases per Dask task, and who is to blame when a task's worker dies.

A Dask task costs a round trip through the scheduler (the worker reports the task done, the scheduler hands it the
next one): about 15 ms, 6 % of a 0.25 s case. A batch pays it once for several cases. Batches are sized from the
cases' measured wall time (about TARGET_BATCH_S of cases, at most MAX_BATCH; single cases until a first case has
finished, so long cases stay one per task) and shrink towards the study's end, so no worker is left idle while
another runs a long batch.

The engine's guarantees stay those of one case per task: a case's ``attempts`` counts the worker deaths charged to
it and the run that gave its row (if any), and a case is failed once charged with as many deaths as the scheduler
allows a task (``allowed-failures`` + 1), so ``attempts`` never exceeds that. A batch task marks each case it starts (an event the caller receives), so when
the scheduler reports a batch's worker dead the case that was running is known and charged with the death; the
other cases of the batch are not. A batch whose worker died is rerun by the scheduler; when it is given up
(KilledWorker), the cases charged as often as the scheduler allows are recorded as failed, and the others run
again, each as a task of its own, with what is left of their allowance: a case charged once in its batch is failed
at its next death (its task, rerun by the scheduler, sees the earlier attempt's mark and runs nothing), not given
the scheduler's retries afresh.

A death after a case ended and before the next case's mark reached the scheduler (its round trip) is charged to the
case that ended: the mark of a start is what tells the caller that the case before ended. After its last case a task
marks its end, so an attempt whose result was lost afterwards (its worker died, killed by a later task, before the
result was fetched; the scheduler then reruns the task) charged no case: none of its cases died.

On Ctrl-C the cases that a batch still in flight has finished are not recorded (its result never arrives): they run
again when the study resumes (docs/sweeps.md).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.sweep.worker import CaseJob, CaseOutcome

#: Wall time of cases a batch aims at, s: long against the scheduler's round trip, short against a study.
TARGET_BATCH_S = 1.0
#: The most cases in one task.
MAX_BATCH = 8
#: Tasks kept submitted per worker thread: the running one and the next, queued at the scheduler.
TASKS_PER_THREAD = 2
#: The status a batch task gives a case it did not start again, its allowance of worker deaths used up.
GIVEN_UP = "given up"
#: The case id of a task's end mark ``[batch, attempt, ENDED]``: every case it started ended.
ENDED = None


@dataclass
class Batch:
    """The cases of one task, numbered within the study."""

    number: int
    jobs: list[CaseJob]
    #: for a case alone after its batch was given up: the worker deaths it may still suffer (None: the scheduler's)
    deaths_left: int | None = None


class BatchPlan:
    """Hands out batches of the pending cases and turns what comes back into one outcome per case."""

    def __init__(self, jobs: Iterable[CaseJob], cases_per_task: int | None = None) -> None:
        self.pending: deque[CaseJob] = deque(jobs)
        self.cases_per_task = cases_per_task
        self.deaths: Counter[str] = Counter()  #: the worker deaths charged to each case
        self._alone: set[str] = set()  #: cases that run as a task of their own (their batch was given up)
        #: batch -> attempt -> the cases it started, in order, then ENDED if it marked its end
        self._started: dict[int, dict[str, list[str | None]]] = {}
        self._case_s = [0.0, 0]  #: sum and count of the finished cases' wall times
        self._numbers = 0
        self._limit = 0  #: the deaths the scheduler allows a task (allowed-failures + 1), known once it gives one up

    def take(self, threads: int, in_flight: int) -> list[Batch]:
        """The batches to submit now, so that TASKS_PER_THREAD tasks per worker thread are in flight."""
        batches: list[Batch] = []
        while self.pending and in_flight + len(batches) < TASKS_PER_THREAD * max(threads, 1):
            size = self.size(threads)
            jobs = [self.pending.popleft()]
            if jobs[0].case_id not in self._alone:
                while len(jobs) < size and self.pending and self.pending[0].case_id not in self._alone:
                    jobs.append(self.pending.popleft())
            self._numbers += 1
            charged = self.deaths[jobs[0].case_id] if jobs[0].case_id in self._alone else 0
            batches.append(Batch(self._numbers, jobs, self._limit - charged if charged else None))
        return batches

    def size(self, threads: int) -> int:
        """Cases in the next batch: cases_per_task when given, else about TARGET_BATCH_S of cases (one until a
        case has finished), and no more than a share of what is left (TASKS_PER_THREAD x threads batches)."""
        if self.cases_per_task is not None:
            return self.cases_per_task
        total_s, count = self._case_s
        if not count or total_s <= 0:
            return 1
        per_time = int(TARGET_BATCH_S / (total_s / count))
        share = math.ceil(len(self.pending) / (TASKS_PER_THREAD * max(threads, 1)))
        return max(1, min(per_time, MAX_BATCH, share))

    def started(self, event: tuple[float, list]) -> None:
        """A batch task's mark (``[batch, attempt, case_id]``, a Dask event: ``(time, message)``); case_id ENDED:
        the attempt's end."""
        number, attempt, case_id = event[1]
        mark = ENDED if case_id is ENDED else str(case_id)
        self._started.setdefault(int(number), {}).setdefault(str(attempt), []).append(mark)

    def finished(self, batch: Batch, attempt: str, outcomes: list[CaseOutcome]) -> list[CaseOutcome]:
        """A batch's outcomes (``attempt`` the run that returned them), with each case's attempts; cases it did not
        get to (it stops at a case interrupted by Ctrl-C) go back to the pending ones, and a case it gave up (its
        deaths_left used up by the earlier attempts) is failed."""
        self._charge(batch, survivor=attempt)
        returned = {o.case_id for o in outcomes}
        self.pending.extendleft(reversed([job for job in batch.jobs if job.case_id not in returned]))
        recorded = []
        for outcome in outcomes:
            if outcome.status == GIVEN_UP:
                recorded.append(_failure(outcome.case_id, self.deaths[outcome.case_id]))
                continue
            outcome.attempts = self.deaths[outcome.case_id] + 1
            if outcome.finished and outcome.wall_time_s is not None:
                self._case_s[0] += outcome.wall_time_s
                self._case_s[1] += 1
            recorded.append(outcome)
        return recorded

    def killed(self, batch: Batch, allowed_failures: int, last_worker: str) -> list[CaseOutcome]:
        """A batch the scheduler gave up (its workers died ``allowed_failures + 1`` times): the cases charged with
        that many deaths are failed; the others run again, each alone."""
        self._charge(batch, survivor=None)
        limit = self._limit = allowed_failures + 1
        failed, again = [], []
        for job in batch.jobs:
            deaths = self.deaths[job.case_id]
            if deaths >= limit or len(batch.jobs) == 1:
                # alone in its task, it is the one that died (if a mark was lost)
                failed.append(_failure(job.case_id, max(deaths, limit), last_worker))
            else:
                again.append(job)
        self._alone.update(job.case_id for job in again)
        self.pending.extendleft(reversed(again))
        return failed

    def _charge(self, batch: Batch, survivor: str | None) -> None:
        """Each attempt of the batch other than the survivor that did not mark its end died: charge it to the last
        case it started."""
        for attempt, cases in self._started.pop(batch.number, {}).items():
            last = cases[-1]
            if attempt != survivor and last is not ENDED:
                self.deaths[last] += 1


def attempts_that_died(marks: Iterable[list], batch: int) -> int:
    """The attempts of ``batch`` among a study's marks (``[batch, attempt, case_id]``) that started a case and did
    not mark their end: the scheduler reran the task after each, so each was ended by its worker's death."""
    started = {attempt for number, attempt, case_id in marks if number == batch and case_id is not ENDED}
    ended = {attempt for number, attempt, case_id in marks if number == batch and case_id is ENDED}
    return len(started - ended)


def _failure(case_id: str, deaths: int, last_worker: str | None = None) -> CaseOutcome:
    """The row of a case failed for the deaths of its workers: ``deaths`` attempts, each ended by one."""
    last = f" (last: {last_worker})" if last_worker else ""
    error = f"the Dask workers running this case died {deaths} times{last}; the case was retried {deaths - 1} time(s)"
    return CaseOutcome(case_id, "failed", error=error, attempts=deaths)
