-- Evaluations: golden tickets per agent skill, run through the model router and scored (include/evals).
--
-- Platform data, not tenant data: goldens are synthetic and results compare models across tenants. The calls
-- themselves are booked in the eval tenant's ledger like any other; each result row keeps its calls' ledger
-- idempotency keys, so its cost and tokens can be checked against the ledger.

-- One row per evaluation of one model. The card's facts are copied in when the run starts (data boundary,
-- price from ticketpilot.model_prices, the catalogue entry), so a card renders the same from the rows forever.
CREATE TABLE ticketpilot.eval_runs (
    run_id              text PRIMARY KEY,
    model               text NOT NULL,           -- "provider:model"
    tenant_id           text NOT NULL,           -- whose ledger the calls are booked in
    trigger             text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'failed')),
    is_cloud            boolean NOT NULL,
    no_training         boolean NOT NULL,
    input_usd_per_mtok  numeric(12, 6) CHECK (input_usd_per_mtok >= 0),   -- NULL: no price (self-hosted, free)
    output_usd_per_mtok numeric(12, 6) CHECK (output_usd_per_mtok >= 0),
    model_info          jsonb NOT NULL DEFAULT '{}',
    skipped             jsonb NOT NULL DEFAULT '[]',   -- [{"skill": ..., "reason": ...}]
    error               text NOT NULL DEFAULT '',
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    UNIQUE (run_id, model)
);
CREATE INDEX eval_runs_model_idx ON ticketpilot.eval_runs (model, started_at);

-- One row per (golden, model, prompt version, run).
CREATE TABLE ticketpilot.eval_results (
    run_id          text NOT NULL,
    model           text NOT NULL,
    golden_id       text NOT NULL,
    skill           text NOT NULL,
    prompt_version  text NOT NULL,               -- "<name>.v<version>", as in the ledger
    score           numeric(5, 4) NOT NULL CHECK (score BETWEEN 0 AND 1),
    passed          boolean NOT NULL,
    failure_reason  text NOT NULL DEFAULT '',
    checks          jsonb NOT NULL DEFAULT '[]',  -- per scorer: kind, score, weight, detail
    answer          text NOT NULL DEFAULT '',     -- the model's last answer, as it came
    calls           integer NOT NULL DEFAULT 0 CHECK (calls >= 0),
    tokens_in       integer NOT NULL DEFAULT 0,
    tokens_out      integer NOT NULL DEFAULT 0,
    cost_usd        numeric(14, 8) NOT NULL DEFAULT 0,
    latency_ms      integer NOT NULL DEFAULT 0,
    call_ids        text[] NOT NULL DEFAULT '{}', -- the ledger rows' idempotency keys
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, golden_id, prompt_version),
    FOREIGN KEY (run_id, model) REFERENCES ticketpilot.eval_runs (run_id, model)
);

-- The aggregate per (run, model, prompt version, skill): what model cards show.
CREATE VIEW ticketpilot.eval_scores AS
SELECT run_id, model, prompt_version, skill,
       count(*)                                                   AS goldens,
       count(*) FILTER (WHERE passed)                             AS passed,
       round(avg(score), 4)                                       AS mean_score,
       sum(cost_usd)                                              AS cost_usd,
       sum(tokens_in)                                             AS tokens_in,
       sum(tokens_out)                                            AS tokens_out,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms)    AS p50_latency_ms,
       max(latency_ms)                                            AS max_latency_ms
FROM ticketpilot.eval_results
GROUP BY run_id, model, prompt_version, skill;
