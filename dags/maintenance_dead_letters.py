"""
### Dead-letter replay
Every 15 minutes, replays outbox rows the spawner gave up on (tickets accepted with 202 whose run never
started, e.g. while Airflow did not answer): at once, then after 30 minutes and 2 hours, 50 per run at most,
waking the spawner. Replays are idempotent (deterministic run ids): a row that had half-succeeded converges to
one run. A row still failing after three replays **fails this run once**, with each ticket and its last error in
the log; later runs only count it. After fixing the cause, `ticketpilot outbox replay ID` starts it over.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="ticketpilot__dead_letter_replay",
    dag_display_name="Ticketpilot: dead-letter replay",
    description="Outbox rows the spawner gave up on, replayed with backoff; the hopeless ones reported once",
    schedule="*/15 * * * *",
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 1, "retry_delay": timedelta(minutes=1),
                  "execution_timeout": timedelta(minutes=5)},
)
def dead_letter_replay() -> None:
    @task
    def replay() -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from include.maintenance.dead_letters import replay as replay_round
        from include.store.db import connect

        with connect(autocommit=True) as conn:
            report = replay_round(conn, actor="ticketpilot__dead_letter_replay")
        for letter in report.replayed:
            print(f"replayed {letter.line()}")
        print(f"{len(report.replayed)} replayed, {report.waiting} waiting for their backoff, "
              f"{report.abandoned} given up earlier (`ticketpilot outbox dead` lists them)")
        if report.gave_up:
            raise AirflowFailException("given up after every replay, a person must look (then `ticketpilot outbox "
                                       "replay ID`):\n" + "\n".join(d.line() for d in report.gave_up))
        return {"replayed": len(report.replayed), "waiting": report.waiting, "abandoned": report.abandoned}

    replay()


dead_letter_replay()
