"""The organisation's graph: users, security groups and their direct memberships (graph 7.1 spec, excerpt under
specs/graph/; every operation is x-ms-preview, api-version 7.1-preview.1). ADO serves these from
`https://vssps.dev.azure.com/{org}/_apis/graph/...`; the emulator serves the same paths under its own base URL.
Path segments are case-insensitive up to the resource name, as on the service (the spec itself spells
`Memberships` and `memberships`, the recorded answers link to `_apis/Graph/Groups/...`).

Descriptors are `{type}.{base64url of an identifier, no padding}`, as in the recorded examples:
- a scope (project): `scp.` + the project id, which is also the storage key `descriptors/{storageKey}` resolves;
  the organisation's own scope is `scp.` + its host id;
- a group: `vssgp.` + a SID `S-1-9-1551374245-{scope id as four integers}-1-{group id as four integers}`,
  the group id (its originId) being its storage key;
- a user: `aad.` + the user's storage key (a uuid).

Groups are created in a project (`scopeDescriptor`) or, without one, in the organisation. Every project has
ADO's default groups (Project Administrators, Contributors, Readers, Build Administrators, Project Valid Users
and `{project} Team`), made the first time the graph looks at the project; they have no members. A group's
displayName is unique in its scope, case-insensitively: ADO's GroupCreationException (TF50624, the .NET
client's IdentityResources.GROUPCREATIONERROR) answers a second one; the spec documents no error, so its 409 is
the emulator's choice. Unknown descriptors get the client's GraphResources messages (VS403325 and friends).

Statuses follow the recorded examples where they differ from the spec's 200: create group 201 (with a Location
header), delete group 204, add membership 201 (a repeated add answers the same membership again); remove
membership answers 200, as both spec and example say. Listings are one page (no X-MS-ContinuationToken).

A deleted group is still returned by `GET groups/{descriptor}`, as the spec says, but it is listed nowhere,
loses all its memberships, takes none, and frees its name. Users come from the admin route `POST
/_emulator/users` (ADO materialises them from Entra ID; the emulator has no directory to ask).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.http import listing, require_preview
from tests.emulators.ado.state import EmulatorState, Project

GRAPH = "/{org}/_apis/graph"
TENANT = "5b3bb7ef-4d8a-4a1c-9c39-2f0c8e4d1a66"  # the Entra ID tenant the emulator's users come from (their domain)
SID_PREFIX = "S-1-9-1551374245"  # the prefix of every Azure DevOps group SID in the recorded examples
DEFAULT_GROUPS = (  # (displayName, description) of the groups ADO gives each new project
    ("Project Administrators", "Members of this group can perform all operations in the team project."),
    ("Build Administrators", "Members of this group can create, modify and delete build definitions and manage "
                             "queued and completed builds."),
    ("Contributors", "Members of this group can add, modify, and delete items within the team project."),
    ("Readers", "Members of this group have access to the team project."),
    ("Project Valid Users", "Members of this group have access to the team project."),
)


def graph_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.middleware("http")
    async def case_insensitive(request: Request, call_next: Any) -> Response:
        """`/{org}/_apis/Graph/Groups/...` reaches `/{org}/_apis/graph/groups/...`; descriptors keep their case."""
        parts = request.scope["path"].split("/")
        if len(parts) > 4 and parts[2] == "_apis" and parts[3].lower() == "graph":
            parts[3], parts[4] = "graph", parts[4].lower()
            request.scope["path"] = "/".join(parts)
        return await call_next(request)

    @app.post("/_emulator/users")
    async def seed_user(body: dict[str, Any]) -> dict[str, Any]:
        """A user of the organisation's directory, as `Users - Create` would materialise it: `principalName`
        (required), `displayName` and `mailAddress`. Seeding a principalName again returns the existing user."""
        principal = str(body.get("principalName") or "").strip()
        if not principal:
            raise AdoHttpError(400, "A principalName is required.", "InvalidArgumentValueException")
        return public(add_user(state, principal, body.get("displayName"), body.get("mailAddress")))

    @app.get(GRAPH + "/descriptors/{storage_key}")
    async def get_descriptor(storage_key: str, request: Request) -> dict[str, Any]:
        """Descriptors - Get: the descriptor of a project (its scope), a group or a user, by storage key."""
        require_preview(request)
        descriptor, kind = resolve_storage_key(state, storage_key)
        return {"value": descriptor, "_links": {
            "self": {"href": graph_url(state, f"Descriptors/{storage_key}")},
            "storageKey": {"href": graph_url(state, f"StorageKeys/{descriptor}")},
            "subject": {"href": graph_url(state, f"{kind}/{descriptor}")}}}

    @app.get(GRAPH + "/groups")
    async def list_groups(request: Request) -> dict[str, Any]:
        """Groups - List: the live groups of `scopeDescriptor` (a project's, or the organisation's own; every
        group without one), optionally only those whose descriptor type is in `subjectTypes` (e.g. `vssgp`)."""
        require_preview(request)
        query = request.query_params
        if query.get("scopeDescriptor"):
            groups = scope_groups(state, scope_of(state, query["scopeDescriptor"]))
        else:
            for project in list(state.projects.values()):
                if project.state != "deleted":
                    project_groups(state, project)
            groups = [g for g in state.graph_groups.values() if not g["_deleted"]]
        types = {t.strip().lower() for t in query.get("subjectTypes", "").split(",") if t.strip()}
        return listing([public(g) for g in groups if not types or g["descriptor"].split(".")[0] in types])

    @app.post(GRAPH + "/groups", status_code=201)
    async def create_group(request: Request) -> JSONResponse:
        """Groups - Create: a new Azure DevOps group (GraphGroupVstsCreationContext) in `scopeDescriptor` (the
        organisation without one), joined to the groups of `groupDescriptors`."""
        require_preview(request)
        body = await request.json()
        if not isinstance(body, dict) or body.get("originId") or body.get("mailAddress"):
            raise AdoHttpError(400, "The emulator creates Azure DevOps groups only (GraphGroupVstsCreationContext), "
                                    "not Entra ID ones by originId or mailAddress.", "InvalidArgumentValueException")
        name = str(body.get("displayName") or "").strip()
        if not name:
            raise AdoHttpError(400, "A displayName is required to create an Azure DevOps group.",
                               "InvalidArgumentValueException")
        query = request.query_params
        scope = scope_of(state, query["scopeDescriptor"]) if query.get("scopeDescriptor") else None
        parents = [live_group(state, d.strip()) for d in query.get("groupDescriptors", "").split(",") if d.strip()]
        if any(g["displayName"].casefold() == name.casefold() for g in scope_groups(state, scope)):
            raise AdoHttpError(409, f"TF50624: A group named {name} already exists in scope "
                                    f"{scope.name if scope else state.org}.", "GroupCreationException", 50624)
        group = add_group(state, scope, name, str(body.get("description") or ""), body.get("storageKey"))
        for parent in parents:
            state.memberships[(group["descriptor"], parent["descriptor"])] = None
        return JSONResponse(public(group), status_code=201, headers={"Location": group["url"]})

    @app.get(GRAPH + "/groups/{descriptor}")
    async def get_group(descriptor: str, request: Request) -> dict[str, Any]:
        """Groups - Get: a group by descriptor, deleted ones included (as the spec says)."""
        require_preview(request)
        group = state.graph_groups.get(descriptor)
        if group is None:
            raise not_found(descriptor)
        return public(group)

    @app.delete(GRAPH + "/groups/{descriptor}", status_code=204)
    async def delete_group(descriptor: str, request: Request) -> Response:
        """Groups - Delete (204, as recorded): the group leaves its parents and loses its members."""
        require_preview(request)
        group = live_group(state, descriptor)
        group["_deleted"] = True
        for pair in [p for p in state.memberships if descriptor in p]:
            del state.memberships[pair]
        return Response(status_code=204)

    @app.get(GRAPH + "/users")
    async def list_users(request: Request) -> dict[str, Any]:
        """Users - List: the organisation's users, optionally only those of `subjectTypes` (e.g. `aad`) or, with
        `scopeDescriptor`, only the members (directly or through groups) of that project's groups."""
        require_preview(request)
        query = request.query_params
        users = list(state.graph_users.values())
        if query.get("scopeDescriptor") and (scope := scope_of(state, query["scopeDescriptor"])) is not None:
            reached = set().union(*(below(state, g["descriptor"]) for g in project_groups(state, scope)))
            users = [u for u in users if u["descriptor"] in reached]
        types = {t.strip().lower() for t in query.get("subjectTypes", "").split(",") if t.strip()}
        return listing([public(u) for u in users if not types or u["descriptor"].split(".")[0] in types])

    @app.get(GRAPH + "/users/{descriptor}")
    async def get_user(descriptor: str, request: Request) -> dict[str, Any]:
        require_preview(request)
        user = state.graph_users.get(descriptor)
        if user is None:
            raise not_found(descriptor)
        return public(user)

    @app.get(GRAPH + "/memberships/{subject}")
    async def list_memberships(subject: str, request: Request) -> dict[str, Any]:
        """Memberships - List: direct memberships of `subject`, up (the groups it is in; the default) or down
        (its members, for a group)."""
        require_preview(request)
        subject_of(state, subject)
        direction = request.query_params.get("direction", "up").lower()
        if direction not in ("up", "down", "unknown"):
            raise AdoHttpError(400, f"direction must be up or down, not {direction!r}.",
                               "InvalidArgumentValueException")
        side = 1 if direction == "down" else 0
        return listing([membership(state, *pair) for pair in state.memberships if pair[side] == subject])

    member_path = GRAPH + "/memberships/{subject}/{container}"

    @app.put(member_path, status_code=201)
    async def add_membership(subject: str, container: str, request: Request) -> dict[str, Any]:
        """Memberships - Add (201, as recorded): idempotent, a repeated add answers the same membership."""
        require_preview(request)
        subject_of(state, subject)
        parent = container_of(state, container)
        if subject == container or container in below(state, subject):
            raise AdoHttpError(400, f"Adding {subject} to {parent['principalName']} would make a group a member of "
                                    "itself.", "AddMemberCyclicMembershipException")
        state.memberships[(subject, container)] = None
        return membership(state, subject, container)

    @app.get(member_path)
    async def get_membership(subject: str, container: str, request: Request) -> dict[str, Any]:
        require_preview(request)
        subject_of(state, subject)
        container_of(state, container)
        if (subject, container) not in state.memberships:
            raise membership_not_found(subject, container)
        return membership(state, subject, container)

    @app.head(member_path)
    async def check_membership(subject: str, container: str, request: Request) -> Response:
        """Memberships - Check Membership Existence: 200 when it exists, 404 (no body) otherwise."""
        require_preview(request)
        return Response(status_code=200 if (subject, container) in state.memberships else 404)

    @app.delete(member_path)
    async def remove_membership(subject: str, container: str, request: Request) -> Response:
        """Memberships - Remove Membership: 200 without a body, as spec and example say."""
        require_preview(request)
        subject_of(state, subject)
        container_of(state, container)
        if (subject, container) not in state.memberships:
            raise membership_not_found(subject, container)
        del state.memberships[(subject, container)]
        return Response(status_code=200)


# --- descriptors -------------------------------------------------------------------------------------------------


def encode(kind: str, identifier: str) -> str:
    """A descriptor: `{kind}.` and the identifier in base64url without padding."""
    return f"{kind}.{base64.urlsafe_b64encode(identifier.encode()).decode().rstrip('=')}"


def decode(value: str) -> str | None:
    """What a descriptor encodes (None when it is not a descriptor)."""
    _, _, encoded = value.partition(".")
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def sid(scope_id: str, key: str) -> str:
    def words(value: str) -> str:
        raw = uuid.UUID(value).bytes
        return "-".join(str(int.from_bytes(raw[i:i + 4], "big")) for i in range(0, 16, 4))
    return f"{SID_PREFIX}-{words(scope_id)}-1-{words(key)}"


def scope_descriptor(state: EmulatorState, project: Project | None) -> str:
    return encode("scp", project.id if project else state.host_id)


def graph_url(state: EmulatorState, tail: str) -> str:
    return state.org_api(f"Graph/{tail}")


def not_found(value: str) -> AdoHttpError:
    return AdoHttpError(404, f"VS403325: The graph subject with descriptor '{value}' could not be found. You may need "
                             "to create the subject in the enclosing enterprise, or add organization-level "
                             "memberships to make a subject in the enterprise visible in the enclosing organization",
                        "GraphSubjectNotFoundException", 403325)


def membership_not_found(subject: str, container: str) -> AdoHttpError:
    return AdoHttpError(404, f"VS403328: The graph membership for member descriptor '{subject}' and container "
                             f"descriptor '{container}' could not be found. You may need to create this membership in "
                             "the enclosing enterprise or organization.", "GraphMembershipNotFoundException", 403328)


def resolve_storage_key(state: EmulatorState, key: str) -> tuple[str, str]:
    """(descriptor, the Graph resource that serves it) of a project's, the organisation's, a group's or a user's
    storage key."""
    if key == state.host_id:
        return scope_descriptor(state, None), "Scopes"
    project = state.find_project(key)
    if project is not None and project.id == key:
        project_groups(state, project)
        return scope_descriptor(state, project), "Scopes"
    for group in state.graph_groups.values():
        if group["originId"] == key:
            return group["descriptor"], "Groups"
    for user in state.graph_users.values():
        if user["_storageKey"] == key:
            return user["descriptor"], "Users"
    raise AdoHttpError(404, f"VS403368: The subject descriptor for storage key '{key}' could not be found.",
                       "SubjectDescriptorNotFoundException", 403368)


def scope_of(state: EmulatorState, value: str) -> Project | None:
    """The project a `scp.` descriptor names, None for the organisation's own scope (the emulator keeps no
    other scopes)."""
    if value == scope_descriptor(state, None):
        return None
    project = state.find_project(decode(value) or "") if value.startswith("scp.") else None
    if project is None or scope_descriptor(state, project) != value:
        raise not_found(value)
    return project


# --- subjects ----------------------------------------------------------------------------------------------------


def public(subject: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subject.items() if not k.startswith("_") or k == "_links"}


def subject_links(state: EmulatorState, kind: str, value: str) -> dict[str, Any]:
    links = {"self": {"href": graph_url(state, f"{kind}/{value}")},
             "memberships": {"href": graph_url(state, f"Memberships/{value}")},
             "membershipState": {"href": graph_url(state, f"MembershipStates/{value}")},
             "storageKey": {"href": graph_url(state, f"StorageKeys/{value}")}}
    if kind == "Users":
        links["avatar"] = {"href": state.org_api(f"GraphProfile/MemberAvatars/{value}")}
    return links


def add_user(state: EmulatorState, principal: str, display_name: Any = None, mail: Any = None) -> dict[str, Any]:
    """An Entra ID user (origin aad, metaType member), or the one already known by that principalName."""
    for user in state.graph_users.values():
        if user["principalName"].casefold() == principal.casefold():
            return user
    key = str(uuid.uuid4())
    value = encode("aad", key)
    user = {
        "subjectKind": "user",
        "metaType": "member",
        "domain": TENANT,
        "principalName": principal,
        "mailAddress": str(mail or principal),
        "origin": "aad",
        "originId": str(uuid.uuid4()),
        "displayName": str(display_name or principal.split("@")[0]),
        "_links": subject_links(state, "Users", value),
        "url": graph_url(state, f"Users/{value}"),
        "descriptor": value,
        "_storageKey": key,
    }
    state.graph_users[value] = user
    return user


def add_group(state: EmulatorState, project: Project | None, name: str, description: str,
              storage_key: Any = None) -> dict[str, Any]:
    """A live Azure DevOps group in `project` (the organisation when None), shaped like the recorded
    CreateGroupInProject answer."""
    try:
        key = str(uuid.UUID(str(storage_key))) if storage_key else str(uuid.uuid4())
    except ValueError as exc:
        raise AdoHttpError(400, f"storageKey {storage_key!r} is not a uuid.", "InvalidArgumentValueException") from exc
    scope_id = project.id if project else state.host_id
    value = encode("vssgp", sid(scope_id, key))
    domain = (f"vstfs:///Classification/TeamProject/{project.id}" if project
              else f"vstfs:///Framework/IdentityDomain/{state.host_id}")
    group = {
        "subjectKind": "group",
        "description": description,
        "domain": domain,
        "principalName": f"[{project.name if project else state.org}]\\{name}",
        "mailAddress": None,
        "origin": "vsts",
        "originId": key,
        "displayName": name,
        "_links": subject_links(state, "Groups", value),
        "url": graph_url(state, f"Groups/{value}"),
        "descriptor": value,
        "_project": project.id if project else None,
        "_deleted": False,
    }
    state.graph_groups[value] = group
    return group


def project_groups(state: EmulatorState, project: Project) -> list[dict[str, Any]]:
    """The project's live groups, its default ones made on first sight."""
    if not any(g["_project"] == project.id for g in state.graph_groups.values()):
        for name, description in (*DEFAULT_GROUPS, (f"{project.name} Team", "The default project team.")):
            add_group(state, project, name, description)
    return [g for g in state.graph_groups.values() if g["_project"] == project.id and not g["_deleted"]]


def scope_groups(state: EmulatorState, scope: Project | None) -> list[dict[str, Any]]:
    """The live groups of a project, or of the organisation itself when None."""
    if scope is not None:
        return project_groups(state, scope)
    return [g for g in state.graph_groups.values() if g["_project"] is None and not g["_deleted"]]


def live_group(state: EmulatorState, value: str) -> dict[str, Any]:
    group = state.graph_groups.get(value)
    if group is None or group["_deleted"]:
        raise not_found(value)
    return group


def subject_of(state: EmulatorState, value: str) -> dict[str, Any]:
    """A user or a live group."""
    return state.graph_users.get(value) or live_group(state, value)


def container_of(state: EmulatorState, value: str) -> dict[str, Any]:
    if value in state.graph_users:
        raise AdoHttpError(400, f"VS403339: Cannot add or remove child from graph subject with descriptor '{value}' "
                                "because it is not a group.", "CannotEditChildrenOfNonGroupException", 403339)
    return live_group(state, value)


def below(state: EmulatorState, value: str) -> set[str]:
    """Every subject that is a member of `value`, directly or through groups."""
    found: set[str] = set()
    todo = [value]
    while todo:
        current = todo.pop()
        for member, container in state.memberships:
            if container == current and member not in found:
                found.add(member)
                todo.append(member)
    return found


def membership(state: EmulatorState, member: str, container: str) -> dict[str, Any]:
    """A GraphMembership with the links of the recorded GetMembershipUser answer."""
    kind = "Users" if member in state.graph_users else "Groups"
    return {"containerDescriptor": container, "memberDescriptor": member, "_links": {
        "self": {"href": graph_url(state, f"Memberships/{member}/{container}")},
        "member": {"href": graph_url(state, f"{kind}/{member}")},
        "container": {"href": graph_url(state, f"Groups/{container}")}}}
