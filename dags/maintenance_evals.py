"""
### Nightly model evaluation

Runs the agents' golden tickets (`include/evals/goldens/`) through the model router for every configured
model and every prompt version of each skill, records one scored row per golden in
`ticketpilot.eval_results`, and renders each model's card and evaluation reports under
`$TICKETPILOT_HOME/reports/evals/<model>/`.

**Which models**: the Airflow Variable `ticketpilot_eval_models` (comma-separated `provider:model`, or a JSON
list of those or of `{"model": ..., "base_url": ...}`), else the environment variable
`TICKETPILOT_EVAL_MODELS`, else the model the agents use (`TICKETPILOT_LLM_MODEL`).

**No model configured: the run is skipped, not failed.** Agents without a model are a supported setup (they
keep their deterministic text), so a nightly failure there would be red every night for nothing and teach
people to ignore this DAG. The skip says why in the task log; a *malformed* Variable fails the task, since
that is a mistake to fix. A model whose every golden went unanswered fails its mapped task (after one retry),
and only that model's reports are left unrendered.

Calls are booked in the ledger of tenant `evals` (`TICKETPILOT_EVAL_TENANT` to change it); a budget on that
tenant caps what the nightly run may spend.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task, task_group
from airflow.timetables.trigger import CronTriggerTimetable

MODELS_VARIABLE = "ticketpilot_eval_models"


@dag(
    dag_id="ticketpilot__evals_nightly",
    dag_display_name="Ticketpilot: nightly model evaluation",
    description="Golden tickets through every configured model; model cards and evaluation reports",
    # A trigger timetable without a start date waits for the next 02:30 UTC: deploying the platform (or
    # `make demo`) never starts an evaluation of the night that already passed. `run_immediately=False` is not
    # enough: Airflow still runs the past slot when it is within a tenth of the interval (2.4 h here); a zero
    # buffer means never.
    schedule=CronTriggerTimetable("30 2 * * *", timezone="UTC", run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    default_args={
        "owner": "ticketpilot",
        "pool": "default_pool",
        "retries": 1,
        "retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=10),
    },
)
def evals_nightly() -> None:
    @task
    def select_models() -> list[dict[str, str | None]]:
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowSkipException

        from include.evals.runner import eval_targets

        targets = eval_targets(Variable.get(MODELS_VARIABLE, default=None))
        if not targets:
            raise AirflowSkipException(
                f"no model to evaluate: set the Airflow Variable {MODELS_VARIABLE} (e.g. "
                "'llamacpp:smollm2-135m-instruct'), TICKETPILOT_EVAL_MODELS or TICKETPILOT_LLM_MODEL")
        return [target.model_dump() for target in targets]

    @task_group
    def evaluate(target: dict[str, str | None]) -> None:
        @task(execution_timeout=timedelta(hours=2), map_index_template="{{ eval_model }}")
        def run_evals(target: dict[str, str | None]) -> str:
            from airflow.sdk import get_current_context

            from include.evals.runner import EvalTarget
            from include.evals.runner import run_evals as run

            context = get_current_context()
            context["eval_model"] = target["model"]  # type: ignore[typeddict-unknown-key]
            summary = run(EvalTarget.model_validate(target), trigger=f"airflow:{context['run_id']}")
            print("\n".join(summary.lines()))
            return summary.run_id

        @task(retries=2, retry_delay=timedelta(seconds=30))
        def render_reports(run_id: str) -> list[str]:
            from include.evals.report import render_run
            from include.store.db import connect

            with connect(autocommit=True) as conn:
                return [str(path) for path in render_run(conn, run_id)]

        render_reports(run_evals(target))

    evaluate.expand(target=select_models())


evals_nightly()
