"""
### Budget alerts
Every 10 minutes, tells each tenant when a model-spend budget crosses 80, 90 and 100 % (the router records each
crossing once per budget and period; at 100 % it refuses further calls). Each alert goes through the webhook
notifier to the tenant's Airflow connection `alerts_<tenant>`, else the platform's `ticketpilot_alerts`: a
connection whose extra `{"url": "https://..."}` (or host) is a chat tool's incoming webhook or any JSON receiver.

Each alert is sent once: delivered alerts are recorded, and a receiver that fails gets the alert again on the next
run (with the same `Idempotency-Key`), after the task has failed with the reason. **No connection configured: the
run is skipped** with the alerts it holds listed in the log; they are sent once a connection exists.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="ticketpilot__budget_alerts",
    dag_display_name="Ticketpilot: budget alerts",
    description="80/90/100 % budget thresholds to each tenant's alert webhook, once each",
    schedule="*/10 * * * *",
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 2, "retry_delay": timedelta(minutes=1),
                  "execution_timeout": timedelta(minutes=5)},
)
def budget_alerts() -> None:
    @task
    def notify() -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowException, AirflowSkipException

        from include.maintenance.budget_alerts import PLATFORM_CHANNEL, mark_sent, pending, tenant_channel
        from include.store.db import connect
        from notifications.webhook import WebhookNotificationError, WebhookNotifier, has_connection

        with connect(autocommit=True) as conn:
            alerts = pending(conn)
            channels: dict[str, str | None] = {}
            sent, failed, unrouted, held = 0, [], [], set()
            for alert in alerts:
                if alert.tenant in held:  # in order per tenant: never 90 % before a failed 80 %
                    continue
                if alert.tenant not in channels:
                    channels[alert.tenant] = next((c for c in (tenant_channel(alert.tenant), PLATFORM_CHANNEL)
                                                   if has_connection(c)), None)
                channel = channels[alert.tenant]
                if channel is None:
                    unrouted.append(alert)
                    continue
                try:
                    WebhookNotifier(conn_id=channel, payload=alert.payload(), idempotency_key=alert.key).notify({})
                except WebhookNotificationError as exc:
                    failed.append(f"{alert.key}: {exc}")
                    held.add(alert.tenant)
                    continue
                mark_sent(conn, alert, channel)
                sent += 1
                print(f"sent to {channel}: {alert.text()}")
        for alert in unrouted:
            print(f"not sent, no connection {tenant_channel(alert.tenant)} or {PLATFORM_CHANNEL}: {alert.text()}")
        if failed:
            raise AirflowException(f"budget alerts of {len(held)} tenant(s) not delivered, retried next run:\n"
                                   + "\n".join(failed))
        if unrouted and not sent:
            raise AirflowSkipException(f"{len(unrouted)} budget alert(s) wait for an alert connection: add "
                                       f"{PLATFORM_CHANNEL} or alerts_<tenant>")
        if not alerts:
            print("no budget alert to send")
        return {"sent": sent, "waiting": len(unrouted)}

    notify()


budget_alerts()
