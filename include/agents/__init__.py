"""The agents: one module per role (po, dev, pipeline, testing, review, docs), each a `run(task)` that
turns an AgentTask into its result. `python -m include.agents <role>` is the entrypoint both runners
(local process, Kubernetes pod) execute; deterministic playbooks do the work, never a canned answer."""
