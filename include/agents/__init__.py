"""The agents: one module per role (po, dev, pipeline, testing, review, docs), each a `run(task)` that
turns an AgentTask into its result. `python -m include.agents <role>` is the entrypoint both runners
(local process, Kubernetes pod) execute. Deterministic playbooks do the work where a change kind has one; where
it has none, a configured model proposes structured edits that are validated, applied and tested
(include.agents.model_edits). Never a canned answer."""
