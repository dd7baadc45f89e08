"""Hook routes for GitHub and GitLab issues: adapters of the ADO hook's shape, ending in the same store path.

Each authenticates the tenant its own tracker's way, then runs the steps every hook shares (`hooks.py`):
rate limit and in-flight cap (503 + Retry-After), JSON (400), parse to the one normalised delivery (422 with
the reason), the tenant's declared scope (403), `accept_delivery` (202 new, 200 repeat, 409 another item's
ticket). Pings and events that make no ticket answer 200 with a note and store nothing: an error there
would only fill the tracker's delivery log or, on GitLab, count towards disabling the hook.

- GitHub: `X-Hub-Signature-256` must be `sha256=` + HMAC-SHA256 of the raw body under the tenant's webhook
  secret (stored Fernet-encrypted, see `include.store.tenants`); the repository must lie within the
  tenant's `github_owner` (an owner, or owner/repo). The webhook's content type must be `application/json`
  (a form-encoded delivery is not JSON: 400).
- GitLab: `X-Gitlab-Token` must be the tenant's hook token (stored as its SHA-256); the project's
  `path_with_namespace` must lie within the tenant's `gitlab_namespace`.

A failed check answers 401 with one message that does not say which part was wrong, unknown tenants alike,
and stores nothing. A check that fails on the cached tenant row is repeated once on a fresh read, so a rotated
secret works at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from include.store.tenants import Tenant, check_github_signature, check_gitlab_token
from include.tickets.github import parse_github_event
from include.tickets.gitlab import parse_gitlab_event
from include.tickets.normalise import DeliveryError, Ignored, TrackerEvent, outside_scope
from plugins.ingress.datamodels import AcceptedResponse, RecordedResponse
from plugins.ingress.hooks import StateDep, accept, admit, bounded_body, in_flight, json_body
from plugins.ingress.state import IngressState

router = APIRouter()

UNAUTHENTICATED = "invalid or missing webhook credentials"


def _verified(state: IngressState, tenant_id: str, check: Callable[[Tenant | None], bool]) -> Tenant:
    """The tenant when `check` accepts what its delivery presented (the cached row first, then a fresh read);
    else 401. `check` is called for unknown tenants too, so refusing one costs the same as a wrong secret."""
    for fresh in (False, True):
        record = state.tenant(tenant_id, fresh=fresh)
        if check(record) and record is not None:
            return record
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, UNAUTHENTICATED)


async def github_tenant(
    tenant: str, request: Request, state: StateDep,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> Tenant:
    body = await bounded_body(request)
    return await run_in_threadpool(_verified, state, tenant, lambda r: check_github_signature(r, body, signature))


def gitlab_tenant(tenant: str, state: StateDep,
                  token: Annotated[str | None, Header(alias="X-Gitlab-Token")] = None) -> Tenant:
    return _verified(state, tenant, lambda r: check_gitlab_token(r, token))


def admitted_github_tenant(hook_tenant: Annotated[Tenant, Depends(github_tenant)], state: StateDep) -> Tenant:
    return admit(state, hook_tenant)


def admitted_gitlab_tenant(hook_tenant: Annotated[Tenant, Depends(gitlab_tenant)], state: StateDep) -> Tenant:
    return admit(state, hook_tenant)


def _responses(credentials: str, scope: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"model": AcceptedResponse | RecordedResponse,
              "description": "A repeat of a delivery already accepted, a ping, or an event that makes no ticket "
                             "(the note says why)"},
        400: {"description": "The body is not JSON"},
        401: {"description": f"Missing or wrong {credentials}"},
        403: {"description": f"The issue's {scope}"},
        409: {"description": "The issue's number is taken by an issue of another repository or project"},
        422: {"description": "Not a usable delivery; the detail says why"},
        503: {"description": "Over the tenant's rate limit, ingress saturated, or database unavailable (Retry-After)"},
    }


@router.post("/hooks/github/{tenant}", status_code=status.HTTP_202_ACCEPTED,
             response_model=AcceptedResponse | RecordedResponse,
             responses=_responses("X-Hub-Signature-256", "repository lies outside the tenant's GitHub owner"))
async def github_hook(
    request: Request, response: Response, hook_tenant: Annotated[Tenant, Depends(admitted_github_tenant)],
    state: StateDep,
    event: Annotated[str | None, Header(alias="X-GitHub-Event")] = None,
    delivery: Annotated[str | None, Header(alias="X-GitHub-Delivery")] = None,
) -> AcceptedResponse | RecordedResponse:
    """Accept one GitHub webhook delivery (`issues` events become tickets)."""
    with in_flight(state):
        payload = await json_body(request)
        parsed = _parsed(lambda: parse_github_event(event, delivery, payload, tenant=hook_tenant.tenant_id))
        return await _answer(state, response, hook_tenant, parsed, hook_tenant.github_owner, "owner")


@router.post("/hooks/gitlab/{tenant}", status_code=status.HTTP_202_ACCEPTED,
             response_model=AcceptedResponse | RecordedResponse,
             responses=_responses("X-Gitlab-Token", "project lies outside the tenant's GitLab namespace"))
async def gitlab_hook(
    request: Request, response: Response, hook_tenant: Annotated[Tenant, Depends(admitted_gitlab_tenant)],
    state: StateDep,
    event: Annotated[str | None, Header(alias="X-Gitlab-Event")] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    event_uuid: Annotated[str | None, Header(alias="X-Gitlab-Event-UUID")] = None,
) -> AcceptedResponse | RecordedResponse:
    """Accept one GitLab hook delivery (`Issue Hook` deliveries become tickets)."""
    with in_flight(state):
        payload = await json_body(request)
        parsed = _parsed(lambda: parse_gitlab_event(event, idempotency_key or event_uuid, payload,
                                                    tenant=hook_tenant.tenant_id))
        return await _answer(state, response, hook_tenant, parsed, hook_tenant.gitlab_namespace, "namespace")


def _parsed(parse: Callable[[], TrackerEvent]) -> TrackerEvent:
    try:
        return parse()
    except DeliveryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


async def _answer(state: IngressState, response: Response, hook_tenant: Tenant, parsed: TrackerEvent,
                  declared: str | None, declared_as: str) -> AcceptedResponse | RecordedResponse:
    if parsed.scope is not None and declared is not None and outside_scope(parsed.scope, declared):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"tenant {hook_tenant.tenant_id}: the delivery comes from "
                                                       f"{parsed.scope!r}, outside its {declared_as} {declared!r}")
    if isinstance(parsed.body, Ignored):
        response.status_code = status.HTTP_200_OK
        return RecordedResponse(event_type=parsed.body.event_type, ticket_key=None, recorded=0,
                                note=parsed.body.reason)
    return await accept(state, response, parsed.body)
