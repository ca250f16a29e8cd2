"""Several cases per Dask task (orchestrator.sweep.batches) on a real LocalCluster: the same table as one case per
task, a case that fails or kills its worker inside a batch charged to itself only, and `o2twin sweep
--cases-per-task`."""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd
import pytest

from orchestrator.cli.main import main
from orchestrator.sweep import Case, run_cases
from orchestrator.sweep.batches import ENDED, GIVEN_UP, MAX_BATCH, BatchPlan, attempts_that_died
from orchestrator.sweep.case import summary_row
from orchestrator.sweep.worker import CaseJob, CaseOutcome
from tests.sweep.conftest import ALLOW
from tests.sweep.test_dask import CIRCUMSTANCES
from tests.sweep.test_local_pool import lag_output
from tests.sweep.test_sweep_cli import ALLOW_ARGS


def batch_sizes(cluster) -> dict[str, list[int]]:
    """The sizes of the batches each study ran on the cluster (by its events' topic), from the marks the workers
    sent (one per case started)."""
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        events = client.get_events()
    sizes: dict[str, dict[tuple[int, str], int]] = defaultdict(lambda: defaultdict(int))
    for topic, entries in events.items():
        if topic.startswith("o2twin-cases-"):
            for _, (batch, attempt, case) in entries:
                if case is not ENDED:
                    sizes[topic][(batch, attempt)] += 1
    return {topic: sorted(counts.values()) for topic, counts in sizes.items()}


def test_batches_give_the_same_table_as_one_case_per_task(tiny_scenario, tmp_path, dask_cluster):
    cases = [Case(tiny_scenario, {"lag.k": k}, seed=s) for k in (1.0, 2.0, 3.0) for s in (0, 1)]
    cases.insert(3, Case(tiny_scenario, {"lag.fail_time": 1.0}, seed=0))  # a case that fails, inside a batch
    address = dask_cluster.scheduler_address
    before = batch_sizes(dask_cluster)
    batched = run_cases(cases, out=tmp_path / "b", scheduler=address, allow_modules=ALLOW, cases_per_task=3)
    ((topic, sizes),) = [(topic, n) for topic, n in batch_sizes(dask_cluster).items() if topic not in before]
    assert attempts_without_end(dask_cluster, topic) == 0  # each attempt marked its end: none was taken for dead
    single = run_cases(cases, out=tmp_path / "s", scheduler=address, allow_modules=ALLOW, cases_per_task=1)
    assert sizes == [1, 3, 3]  # the cases' marks: three tasks, the last one with the seventh case alone
    assert list(batched["status"]) == ["ok"] * 3 + ["failed"] + ["ok"] * 3
    assert "fail_time" in batched["error"][3] and (batched["attempts"] == 1).all()
    assert batched.drop(columns=CIRCUMSTANCES).equals(single.drop(columns=CIRCUMSTANCES))
    assert len(list((tmp_path / "b" / "rows").iterdir())) == 7


def test_a_case_killing_its_worker_inside_a_batch_is_charged_alone(tiny_scenario, tmp_path, dask_cluster, killer_study):
    """The batch dies twice at the killer (the scheduler's one retry), so it is given up: the killer is failed
    with two deaths, the others run again one per task, the once-killer then succeeding on its retry."""
    cases = [*killer_study.cases, Case(tiny_scenario, {"lag.fail_time": 1.0})]  # and a case that fails, last
    out = tmp_path / "k"
    table = run_cases(cases, out=out, scheduler=dask_cluster.scheduler_address, allow_modules=ALLOW, cases_per_task=5)
    assert list(table["status"]) == ["ok", "failed", "ok", "ok", "failed"]
    assert list(table["attempts"]) == [1, 2, 2, 1, 1]
    assert "died 2 times" in table["error"][1] and "retried 1 time" in table["error"][1]
    assert "fail_time" in table["error"][4]
    assert [table["y_final"][i] for i in (0, 3)] == [pytest.approx(lag_output(k), rel=1e-12) for k in (1.0, 2.0)]
    assert {p.stem for p in (out / "rows").iterdir()} == set(table["case_id"])


def test_a_batch_that_survives_its_retry_charges_the_death_to_its_case(tiny_scenario, tmp_path, dask_cluster):
    flag = tmp_path / "flag"
    flag.mkdir()
    cases = [
        Case(tiny_scenario, {"killer.kill_at_s": 1.0, "killer.once_flag": str(flag)}),
        Case(tiny_scenario, {"lag.k": 1.0}),
        Case(tiny_scenario, {"lag.fail_time": 1.0}),
        Case(tiny_scenario, {"lag.k": 3.0}),
    ]
    table = run_cases(cases, scheduler=dask_cluster.scheduler_address, allow_modules=ALLOW, cases_per_task=4)
    assert (flag / "killed").exists()
    assert list(table["status"]) == ["ok", "ok", "failed", "ok"]
    assert list(table["attempts"]) == [2, 1, 1, 1]
    assert table["worker"].nunique() == 1  # the batch's second attempt ran all four


def test_a_case_charged_in_a_given_up_batch_has_only_the_rest_of_its_retries(tiny_scenario, dask_cluster, killer_study):
    """As with one case per task, a case is retried once in all (allowed-failures 1), batch or alone. The batch
    dies at the once-killer, then (its retry) at the killer, and is given up; alone, the once-killer succeeds
    (attempts 2) and the killer dies once more and is failed with 2 deaths: its task, rerun by the scheduler, does
    not start it a third time."""
    once, always = killer_study.cases[2], killer_study.cases[1]
    before = case_starts(dask_cluster)
    table = run_cases([once, always], scheduler=dask_cluster.scheduler_address, allow_modules=ALLOW, cases_per_task=2)
    assert (killer_study.flag / "killed").exists()
    assert list(table["status"]) == ["ok", "failed"]
    assert list(table["attempts"]) == [2, 2]
    assert "died 2 times" in table["error"][1] and "retried 1 time" in table["error"][1]
    (starts,) = [n for topic, n in case_starts(dask_cluster).items() if topic not in before]
    assert starts[table["case_id"][1]] == 2
    # the once-killer's second start ran, its row lost with the batch; a fourth start when its task's result, held
    # by a worker the killer then killed, was lost before it was fetched (a race the machine's load decides)
    assert starts[table["case_id"][0]] in (3, 4)


def attempts_without_end(cluster, topic: str) -> int:
    """The attempts of a study's tasks that marked a case's start but not their end (the caller takes them for dead)."""
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        marks = [msg for _, msg in client.get_events(topic)]
    return sum(attempts_that_died(marks, batch) for batch in {batch for batch, _, _ in marks})


def case_starts(cluster) -> dict[str, Counter[str]]:
    """How often each study (by its events' topic) started each case, from the workers' marks."""
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        events = client.get_events()
    return {
        topic: Counter(case for _, (_batch, _attempt, case) in entries if case is not ENDED)
        for topic, entries in events.items()
        if topic.startswith("o2twin-cases-")
    }


def test_cases_per_task_from_the_command_line(tiny_scenario, tmp_path, dask_cluster, capsys):
    """`o2twin sweep --cases-per-task N` reaches the cluster's tasks (the workers' marks: N cases per task), and
    the table is the same with 3 cases per task as with 1."""
    tables, sizes = {}, {}
    for n in ("3", "1"):
        before = batch_sizes(dask_cluster)
        out = tmp_path / f"per_task_{n}"
        code = main(["-q", "sweep", str(tiny_scenario), "--grid", "lag.k=1:3:3", "--seeds", "2", "--no-plots",
                     "--scheduler", dask_cluster.scheduler_address, "--cases-per-task", n, "--out", str(out),
                     *ALLOW_ARGS])  # fmt: skip
        assert code == 0 and "cases      6" in capsys.readouterr().out
        (sizes[n],) = [s for topic, s in batch_sizes(dask_cluster).items() if topic not in before]
        tables[n] = pd.read_parquet(out / "table.parquet")
    assert sizes == {"3": [3, 3], "1": [1] * 6}
    assert (tables["3"]["status"] == "ok").all()
    assert tables["3"].drop(columns=CIRCUMSTANCES).equals(tables["1"].drop(columns=CIRCUMSTANCES))


def job(n: int) -> CaseJob:
    return CaseJob(f"case{n}", "bundle", {}, None, None, summary_row)


def test_batch_sizes_follow_the_cases_wall_time_and_shrink_at_the_end():
    plan = BatchPlan([job(n) for n in range(100)])
    first = plan.take(threads=2, in_flight=0)
    assert [len(b.jobs) for b in first] == [1, 1, 1, 1]  # nothing known of the cases yet: one per task
    assert plan.take(threads=2, in_flight=4) == []  # two tasks per worker thread in flight at most
    plan.finished(first[0], "a", [CaseOutcome("case0", "ok", wall_time_s=0.25)])
    assert [len(b.jobs) for b in plan.take(threads=2, in_flight=3)] == [4]  # about 1 s of 0.25 s cases
    plan.finished(first[1], "b", [CaseOutcome("case1", "ok", wall_time_s=0.01)])
    assert len(plan.take(threads=2, in_flight=3)[0].jobs) == 7  # 1 s of the mean case, 0.13 s
    for batch, name in ((first[2], "case2"), (first[3], "case3")):
        plan.finished(batch, "c", [CaseOutcome(name, "ok", wall_time_s=0.001)])
    assert len(plan.take(threads=2, in_flight=3)[0].jobs) == MAX_BATCH
    sizes = []
    while plan.pending:
        left = len(plan.pending)
        sizes.append(len(plan.take(threads=2, in_flight=3)[0].jobs))
        assert sizes[-1] <= -(-left // 4)  # at most a quarter of what is left (two tasks per thread, two threads)
    assert sizes == sorted(sizes, reverse=True) and sizes[-3:] == [1, 1, 1]


def test_a_given_up_batch_fails_its_killer_and_sends_the_others_alone():
    plan = BatchPlan([job(n) for n in range(4)], cases_per_task=4)
    (batch,) = plan.take(threads=1, in_flight=0)
    for attempt in ("a", "b"):
        for n in (0, 1):
            plan.started((0.0, [batch.number, attempt, f"case{n}"]))
    (failed,) = plan.killed(batch, allowed_failures=1, last_worker="tcp://w")
    assert failed.case_id == "case1" and failed.attempts == 2 and "died 2 times" in (failed.error or "")
    again = plan.take(threads=4, in_flight=0)
    assert [[j.case_id for j in b.jobs] for b in again] == [["case0"], ["case2"], ["case3"]]


def test_a_case_alone_after_its_batch_was_given_up_keeps_the_rest_of_its_allowance():
    plan = BatchPlan([job(n) for n in range(3)], cases_per_task=3)
    (batch,) = plan.take(threads=1, in_flight=0)
    for attempt, cases in (("a", ["case0"]), ("b", ["case0", "case1"])):  # each attempt died at its last case
        for case in cases:
            plan.started((0.0, [batch.number, attempt, case]))
    assert plan.killed(batch, allowed_failures=1, last_worker="tcp://w") == []  # no case charged twice
    alone = plan.take(threads=4, in_flight=0)
    assert [(b.jobs[0].case_id, b.deaths_left) for b in alone] == [("case0", 1), ("case1", 1), ("case2", None)]
    plan.started((0.0, [alone[1].number, "c", "case1"]))  # died; the task's rerun "d" did not start it again
    (failed,) = plan.finished(alone[1], "d", [CaseOutcome("case1", GIVEN_UP)])
    assert failed.status == "failed" and failed.attempts == 2 and "died 2 times" in (failed.error or "")
    (ok,) = plan.finished(alone[0], "e", [CaseOutcome("case0", "ok")])
    assert ok.attempts == 2


def test_an_attempt_that_marked_its_end_is_not_charged_when_its_result_is_lost():
    """A task's result lost after it ended (its worker killed by a later task before the result was fetched) is
    rerun by the scheduler; none of its cases died, so none is charged."""
    plan = BatchPlan([job(n) for n in range(2)], cases_per_task=2)
    (batch,) = plan.take(threads=1, in_flight=0)
    for mark in ("case0", "case1", ENDED):
        plan.started((0.0, [batch.number, "a", mark]))
    for mark in ("case0", "case1", ENDED):
        plan.started((0.0, [batch.number, "b", mark]))
    outcomes = plan.finished(batch, "b", [CaseOutcome("case0", "ok"), CaseOutcome("case1", "ok")])
    assert [o.attempts for o in outcomes] == [1, 1]
    assert attempts_that_died([[1, "a", "case0"], [1, "a", ENDED], [1, "b", "case0"], [2, "c", "case0"]], 1) == 1


@pytest.mark.parametrize("earlier_ended", [False, True])
def test_a_rerun_alone_case_gives_up_only_after_a_death(tiny_scenario, dask_cluster, earlier_ended):
    """The worker side of the allowance, on the real cluster: a case alone with one death left whose task's earlier
    attempt started it and died is not started again; one whose earlier attempt ended (its result lost) runs."""
    from distributed import Client

    from orchestrator.sweep.dask_worker import ScenarioBundles, run_batch_on_worker
    from orchestrator.sweep.engine import prepare_cases

    bundles, prepared = prepare_cases([Case(tiny_scenario, {"lag.k": 1.0})], summary_row, False, ALLOW)
    (case,) = prepared.values()
    topic, plugin = f"o2twin-cases-rerun-{earlier_ended}", f"o2twin-bundles-rerun-{earlier_ended}"
    with Client(dask_cluster.scheduler_address) as client:
        client.register_plugin(ScenarioBundles(bundles), name=plugin)
        client.log_event(topic, [7, "earlier", case.job.case_id])
        if earlier_ended:
            client.log_event(topic, [7, "earlier", ENDED])
        _, (outcome,) = client.submit(run_batch_on_worker, plugin, topic, 7, [case.job], 1, pure=False).result()
        client.unregister_worker_plugin(plugin)
    assert outcome.status == ("ok" if earlier_ended else GIVEN_UP)
    assert bool(outcome.metrics) == earlier_ended  # it ran, or started nothing
