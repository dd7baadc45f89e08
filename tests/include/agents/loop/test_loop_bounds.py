"""The loop's bounds and refusals, each through the real router (admission, budgets, ledger, fallbacks): a bound
stops the loop with a message that names it and what to raise, the transcript ends in a "stop", and nothing the
loop did reaches the branch; what the model gets wrong (prose, unknown tools, bad arguments, paths outside the
working copy, an early finish) comes back to it as text it can act on, and a model that corrects itself goes on.
"""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from include.agents import dev
from include.agents.errors import BudgetRefusedError
from include.agents.llm import MODEL_ENV, LlmConfig
from include.agents.loop.agent import LoopBounds, LoopOutcome, LoopStoppedError, run_loop
from include.agents.loop.change import LOOP_ENV
from include.agents.loop.transcript import Transcript, TranscriptEntry, path_for
from include.agents.loop.workspace import LoopWorkspace
from include.contracts import Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.scm.local import LocalForge
from include.store.routing import set_policy
from include.store.tenants import create_tenant
from model_serving.router import RoutingPolicy
from model_serving.router.ledger import calls, events, set_budget, set_price
from model_serving.router.providers import register_model, unregister_model
from tests.include.agents.conftest import write_files
from tests.include.agents.loop.conftest import (
    Script,
    call,
    finish,
    last_tool_result,
    say,
    task_for,
    ticket_for,
)
from tests.include.agents.loop.test_loop_smoke import SUBTOTAL, TAX_LINE, TEST

RETRIES = 3
"""build_agent's `retries`: how many wrong answers in a row (per tool, or for the output) the agent forgives."""
TOTALS = "invoicing/totals.py"
COMMENTED = TAX_LINE.replace("\n", "  # VAT\n")
DONE = "The tax rate line says that it is the VAT rate."


def demo(tmp_path: Path) -> Path:
    return write_files(tmp_path / DEMO_REPO, demo_repo_files())


def loop(config: LlmConfig, ticket: Ticket, workspace: LoopWorkspace, bounds: LoopBounds | None = None) -> LoopOutcome:
    return run_loop(config, task_for(ticket), workspace, {"ticket title": ticket.title}, step="dev.loop",
                    bounds=bounds or LoopBounds())


def transcript_of(ticket: Ticket) -> list[TranscriptEntry]:
    return Transcript.read(path_for(ticket.tenant, ticket.ticket_key, "dev.loop"))


def told(messages: list[ModelMessage]) -> str:
    """Everything the latest request says back to the model: tool results, retry texts, the agent's notes."""
    return "\n".join(part.model_response_str() if isinstance(part, ToolReturnPart) else str(part.content)
                     for part in messages[-1].parts if part.part_kind in ("tool-return", "retry-prompt", "user-prompt"))


@pytest.fixture
def serve(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Script]]:
    """Registers scripted models under specs of their own (prices and policies set here touch no other test)."""
    monkeypatch.delenv(MODEL_ENV, raising=False)
    served: list[str] = []

    def make(spec: str) -> Script:
        script = Script()
        register_model(spec, FunctionModel(script, model_name=spec.partition(":")[2]))
        served.append(spec)
        return script

    yield make
    for spec in served:
        unregister_model(spec)


def test_the_turn_bound_stops_the_loop_and_names_what_to_raise(tmp_path: Path, script: Script, config: LlmConfig,
                                                               db: psycopg.Connection) -> None:
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    script.then(*(call("read_file", path=TOTALS, start_line=n) for n in (1, 10, 20, 30)))
    workspace = LoopWorkspace(demo(tmp_path), ["true"])

    with pytest.raises(LoopStoppedError) as stopped:
        loop(config, ticket, workspace, LoopBounds(max_turns=3))

    message = str(stopped.value)
    assert "request_limit of 3" in message and "raise TICKETPILOT_LOOP_MAX_TURNS" in message
    assert "Nothing was committed" in message and str(path_for(ticket.tenant, ticket.ticket_key, "dev.loop")) in message
    entries = transcript_of(ticket)
    assert (entries[-1].kind, entries[-1].name, entries[-1].ok) == ("stop", "bound", False)
    assert "request_limit of 3" in entries[-1].result
    assert sum(e.kind == "model" for e in entries) == 3 and len(script.steps) == 1, "a fourth turn is never asked"
    assert [r["status"] for r in calls(db, ticket.tenant)] == ["ok"] * 3
    assert workspace.changed_paths() == []


def test_the_same_call_again_and_again_is_stopped_as_looping(tmp_path: Path, script: Script, config: LlmConfig) -> None:
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    same = {"path": TOTALS}
    script.then(call("read_file", **same), call("read_file", **same), call("list_files"),  # broken up: goes on
                call("read_file", **same), call("read_file", **same), call("read_file", **same))
    workspace = LoopWorkspace(demo(tmp_path), ["true"])

    with pytest.raises(LoopStoppedError, match="read_file with the same arguments 3 times in a row: it is looping, "
                                               "not making progress"):
        loop(config, ticket, workspace, LoopBounds(max_repeats=3))

    entries = transcript_of(ticket)
    assert (entries[-1].kind, entries[-1].name, entries[-1].ok) == ("stop", "bound", False)
    assert "looping" in entries[-1].result
    assert [e.name for e in entries if e.kind == "tool"] == ["read_file", "read_file", "list_files", "read_file",
                                                             "read_file"], "the third repeat is not run"
    assert not script.steps and workspace.changed_paths() == []


NONSENSE: dict[str, tuple[Callable[[], ModelResponse], str, str]] = {
    # a fresh wrong answer each time, what the stop names, what each retry tells the model
    "prose": (lambda: say("I would add a comment to the tax rate."), "output retries (3)",
              "include your response in a tool call"),
    "unknown tool": (lambda: call("git_push", branch="main"), "Tool 'git_push' exceeded max retries count of 3",
                     "Unknown tool name: 'git_push'"),
    "invalid arguments": (lambda: call("read_file", start_line="first"),
                          "Tool 'read_file' exceeded max retries count of 3", "Field required"),
}


@pytest.mark.parametrize("kind", NONSENSE)
def test_nonsense_past_the_retries_stops_the_loop(kind: str, tmp_path: Path, script: Script,
                                                  config: LlmConfig) -> None:
    answer, named, retry = NONSENSE[kind]
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    script.then(*(answer() for _ in range(RETRIES + 1)))
    workspace = LoopWorkspace(demo(tmp_path), ["true"])

    with pytest.raises(LoopStoppedError, match="the model kept answering what no tool accepts") as stopped:
        loop(config, ticket, workspace)

    assert named in str(stopped.value) and "Nothing was committed" in str(stopped.value)
    assert not script.steps and len(script.seen) == RETRIES + 1, "each wrong answer but the last got a retry"
    assert all(retry in told(seen) for seen in script.seen[1:]), "each retry told the model what was wrong"
    entries = transcript_of(ticket)
    assert (entries[-1].kind, entries[-1].name, entries[-1].ok) == ("stop", "bound", False)
    assert named in entries[-1].result
    assert sum(e.kind == "model" for e in entries) == RETRIES + 1 and workspace.changed_paths() == []


@pytest.mark.parametrize("kind", NONSENSE)
def test_one_nonsense_answer_then_a_correct_finish_recovers(kind: str, tmp_path: Path, script: Script,
                                                            config: LlmConfig) -> None:
    answer, _, retry = NONSENSE[kind]
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    script.then(answer(), call("replace_text", path=TOTALS, search=TAX_LINE, replace=COMMENTED), finish(DONE))

    outcome = loop(config, ticket, LoopWorkspace(demo(tmp_path), ["true"]))

    assert retry in told(script.seen[1])
    assert outcome.changed == [TOTALS] and outcome.turns == 3 and outcome.summary == DONE
    assert COMMENTED in (tmp_path / DEMO_REPO / TOTALS).read_text(encoding="utf-8")
    assert (transcript_of(ticket)[-1].kind, transcript_of(ticket)[-1].name) == ("stop", "finish")


def test_finish_is_refused_until_something_changed_and_the_tests_pass(tmp_path: Path, script: Script,
                                                                      config: LlmConfig) -> None:
    ticket = ticket_for(DEMO_REPO, "Invoices take an optional discount")
    summary = "Invoices take an optional discount_cents off the subtotal before tax."
    script.then(
        finish(summary),  # nothing changed yet
        call("create_file", path="tests/test_discount.py", content=TEST),
        finish(summary),  # the new test fails: the code has no discount yet
        call("replace_text", path=TOTALS, search=TAX_LINE, replace=TAX_LINE + "    discount_cents: int = 0\n"),
        call("replace_text", path=TOTALS, search=SUBTOTAL,
             replace=SUBTOTAL.replace(")\n", ") - self.discount_cents\n")),
        finish(summary),
    )
    workspace = LoopWorkspace(demo(tmp_path), ["python", "-m", "pytest", "-q"])
    workspace.test_argv[0] = workspace.sandbox.python

    outcome = loop(config, ticket, workspace, LoopBounds(max_turns=10))

    assert "nothing in the repository has changed yet: make the change before you finish" in told(script.seen[1])
    red = last_tool_result(script.seen[3])
    assert "the tests do not pass yet, so the work is not finished" in red
    assert "test_a_discount_comes_off_the_subtotal_before_tax" in red and "1 failed" in red
    assert outcome.changed == [TOTALS, "tests/test_discount.py"] and outcome.turns == 6 and outcome.summary == summary
    checks = [e for e in transcript_of(ticket) if e.name == "finish.check"]
    assert [c.ok for c in checks] == [False, True] and "passed" in checks[-1].result


PRICE_OUT = Decimal(1000)
"""USD per million output tokens of the priced model: 100 tokens out cost 0.1000 USD."""
TOKENS_OUT = 100


def costly(response: ModelResponse) -> ModelResponse:
    """The answer with the usage a provider would report, so the router costs it exactly."""
    return dataclasses.replace(response, usage=RequestUsage(output_tokens=TOKENS_OUT))


def test_the_budget_refuses_a_later_turn_and_the_loop_stops_on_it(tmp_path: Path, serve: Callable[[str], Script],
                                                                  db: psycopg.Connection) -> None:
    spec = f"scripted:priced-{uuid.uuid4().hex[:8]}"
    model = serve(spec)
    set_price(db, spec, 0, PRICE_OUT)
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    set_budget(db, ticket.tenant, "ticket", ticket.ticket_key, Decimal("0.25"))
    model.then(costly(call("read_file", path=TOTALS)), costly(call("search_text", pattern="tax_rate")),
               costly(call("replace_text", path=TOTALS, search=TAX_LINE, replace=COMMENTED)))
    workspace = LoopWorkspace(demo(tmp_path), ["true"])
    bounds = LoopBounds(answer_tokens=64)  # each turn is admitted on 64 tokens out: an estimate of 0.0640 USD

    with pytest.raises(BudgetRefusedError) as refused:
        loop(LlmConfig(model=spec), ticket, workspace, bounds)

    assert str(refused.value) == (
        f"Ticket {ticket.ticket_key}: the model budget refused the dev.loop call. The ticket budget "
        f"'{ticket.ticket_key}' of tenant '{ticket.tenant}' has spent 0.2000 USD of its 0.2500 USD limit (80.0%), "
        "and this call may cost up to 0.0640 USD. The ticket stops here without retrying; raise the limit with "
        f"model_serving.router.ledger.set_budget(conn, '{ticket.tenant}', 'ticket', '{ticket.ticket_key}', "
        "limit_usd=...) and rerun the step.")
    assert len(model.seen) == 2 and len(model.steps) == 1, "the refused turn never reached the model"
    entries = transcript_of(ticket)
    assert (entries[-1].kind, entries[-1].name, entries[-1].ok) == ("stop", "budget", False)
    assert "spent $0.2000 of $0.2500" in entries[-1].result
    rows = calls(db, ticket.tenant)
    assert [(r["status"], r["cost_usd"]) for r in rows] == [("ok", Decimal("0.1"))] * 2, "a refusal leaves no row"
    [threshold] = events(db, ticket.tenant, "budget.threshold")
    assert threshold["details"]["threshold"] == 80 and threshold["subject"] == f"ticket:{ticket.ticket_key}"
    assert workspace.changed_paths() == []


def test_a_provider_dying_mid_loop_hands_the_whole_history_to_the_fallback(
        tmp_path: Path, serve: Callable[[str], Script], db: psycopg.Connection) -> None:
    tag = uuid.uuid4().hex[:8]
    primary_spec, fallback_spec = f"scripted:primary-{tag}", f"scripted:fallback-{tag}"
    primary, fallback = serve(primary_spec), serve(fallback_spec)
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    create_tenant(db, ticket.tenant, f"{ticket.tenant}-hooks", "s", DEMO_REPO, [])
    set_policy(db, ticket.tenant, RoutingPolicy(default_model=primary_spec, large_model=primary_spec,
                                                fallbacks=[fallback_spec]), actor="test")

    def down(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise ModelHTTPError(503, primary_spec, body={"error": {"message": "the model is overloaded"}})

    primary.then(call("search_text", pattern="tax_rate"), call("read_file", path=TOTALS), down, down)
    fallback.then(call("replace_text", path=TOTALS, search=TAX_LINE, replace=COMMENTED), finish(DONE))
    config = LlmConfig.for_tenant(ticket.tenant)
    assert config is not None and config.spec == primary_spec

    outcome = loop(config, ticket, LoopWorkspace(demo(tmp_path), ["true"]))

    assert outcome.models == [primary_spec, fallback_spec] and outcome.turns == 4 and outcome.changed == [TOTALS]
    history = fallback.seen[0]
    assert history == primary.seen[2], "the fallback got the very request the primary failed on"
    results = {p.tool_name: p.model_response_str() for m in history for p in m.parts if isinstance(p, ToolReturnPart)}
    assert "invoicing/totals.py:" in results["search_text"] and TAX_LINE.strip() in results["read_file"]
    turns = [e.name for e in transcript_of(ticket) if e.kind == "model"]
    assert turns == [primary_spec, primary_spec, fallback_spec, fallback_spec]
    rows = [(f"{r['provider']}:{r['model']}", r["status"]) for r in calls(db, ticket.tenant)]
    assert rows == [(primary_spec, "ok"), (primary_spec, "ok"), (primary_spec, "error"), (fallback_spec, "ok"),
                    (primary_spec, "error"), (fallback_spec, "ok")]
    assert "HTTP 503: the model is overloaded" in calls(db, ticket.tenant)[2]["error"]


def test_the_transcript_on_disk_holds_no_address_or_secret_the_model_read(tmp_path: Path, script: Script,
                                                                          config: LlmConfig) -> None:
    token = "".join(("gh", "p_", "Zq7Lw2Rx9Kt4" * 3))
    address = "".join(("billing.lead", "@", "example.com"))
    secret_line = f'TOKEN = "{token}"\n'
    root = write_files(tmp_path / DEMO_REPO, demo_repo_files() | {
        "invoicing/contact.py": f'"""Who to ask about invoices."""\n\nSUPPORT = "{address}"\n{secret_line}'})
    ticket = ticket_for(DEMO_REPO, "Do not keep the API token in the code")
    script.then(call("read_file", path="invoicing/contact.py"),
                call("replace_text", path="invoicing/contact.py", search=secret_line,
                     replace='TOKEN = ""  # read from the environment\n'),
                finish("The API token is no longer kept in invoicing/contact.py."))

    outcome = loop(config, ticket, LoopWorkspace(root, ["true"]))

    assert token in last_tool_result(script.seen[1]), "the self-hosted model itself reads the file as it is"
    raw = outcome.transcript.read_text(encoding="utf-8")
    assert token not in raw and address not in raw and "Zq7Lw2Rx9Kt4" not in raw
    read, replaced = [e for e in Transcript.read(outcome.transcript) if e.kind == "tool"][:2]
    assert "[EMAIL_1]" in read.result and "[SECRET_1]" in read.result
    assert "[SECRET_1]" in replaced.args


def test_paths_outside_the_working_copy_are_refused_as_text_and_the_loop_goes_on(
        tmp_path: Path, script: Script, config: LlmConfig) -> None:
    root = demo(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    git_config = (root / ".git" / "config").read_text(encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n", encoding="utf-8")
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    escapes = {"../outside.txt": "must not contain '..'", str(outside): "must be relative to the repository root",
               ".git/config": "is inside .git, which edits never touch"}
    for path in escapes:
        script.then(ModelResponse(parts=[
            *call("read_file", path=path).parts,
            *call("replace_text", path=path, search="keep me", replace="overwritten").parts,
            *call("create_file", path=path, content="overwritten\n").parts]))
    script.then(call("replace_text", path=TOTALS, search=TAX_LINE, replace=COMMENTED), finish(DONE))

    outcome = loop(config, ticket, LoopWorkspace(root, ["true"]))

    for turn, reason in enumerate(escapes.values(), 1):
        returned = [p for p in script.seen[turn][-1].parts if isinstance(p, ToolReturnPart)]
        assert [p.tool_name for p in returned] == ["read_file", "replace_text", "create_file"]
        assert all(reason in p.model_response_str() for p in returned), returned
    assert outcome.changed == [TOTALS] and outcome.turns == 5
    assert outside.read_text(encoding="utf-8") == "keep me\n"
    assert (root / ".git" / "config").read_text(encoding="utf-8") == git_config
    reads = [e for e in transcript_of(ticket) if e.name == "read_file"]
    assert [e.ok for e in reads] == [False] * 3
    assert all(reason in e.result for e, reason in zip(reads, escapes.values(), strict=True))


def test_a_stopped_loop_leaves_the_branch_and_the_pr_untouched(script: Script, tenant_forge: LocalForge,
                                                               feature_ticket: Ticket,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_LOOP_MAX_TURNS", "3")
    monkeypatch.delenv(LOOP_ENV, raising=False)
    script.then(call("read_file", path=TOTALS),
                call("replace_text", path=TOTALS, search=TAX_LINE, replace=TAX_LINE + "    discount_cents: int = 0\n"),
                call("read_file", path="tests/test_totals.py"),
                finish("Invoices take an optional discount_cents off the subtotal."))

    with pytest.raises(LoopStoppedError, match="TICKETPILOT_LOOP_MAX_TURNS") as stopped:
        dev.run(task_for(feature_ticket))

    assert "Nothing was committed" in str(stopped.value)
    assert len(script.steps) == 1, "the edit was made, the finish never asked for"
    assert tenant_forge.head(DEMO_REPO, feature_ticket.branch) == tenant_forge.head(DEMO_REPO, "main")
    assert tenant_forge.find_pr(DEMO_REPO, feature_ticket.branch) is None
    assert transcript_of(feature_ticket)[-1].kind == "stop"


def test_a_refused_edit_is_recorded_with_the_reason_the_model_reads(tmp_path: Path, script: Script,
                                                                    config: LlmConfig) -> None:
    ticket = ticket_for(DEMO_REPO, "Comment the tax rate")
    script.then(call("replace_text", path="../outside.txt", search="keep me", replace="overwritten"),
                finish("Nothing can be done here.", refused=True))
    with pytest.raises(LoopStoppedError, match="refused the ticket"):
        loop(config, ticket, LoopWorkspace(demo(tmp_path), ["true"]))
    reason = "path '../outside.txt' must not contain '..', '.' or empty parts: it must stay inside the repository"
    assert reason in last_tool_result(script.seen[1])
    assert [(e.name, e.ok, e.result) for e in transcript_of(ticket) if e.kind == "tool"] == [
        ("replace_text", False, reason)]
