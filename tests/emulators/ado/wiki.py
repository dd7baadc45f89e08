"""Project wikis and their pages (wiki 7.1 spec, copy under specs/; wikis 7.1-preview.2, pages
7.1-preview.1), held in memory.

A page's ETag is the git blob id of its content, which is what ADO sends: the recorded examples'
ETags are exactly `git hash-object` of their contents ("Wiki page content" -> 4c6adda4...). Create or
update (`PUT pages?path=`) follows ADO's rules for If-Match:
- no If-Match, no page: created, 201;
- no If-Match, page exists: WikiPageAlreadyExistsException, which ADO maps to no status and so answers 500
  (public clients of the REST API catch exactly that 500);
- If-Match not a 40-hex version: 400; If-Match on a page that does not exist: 404 WikiPageNotFoundException;
- If-Match of another version: 412 WikiPageHasConflictsException; If-Match of the current version: 200.
A page whose parent page does not exist is refused with 404 WikiAncestorPageNotFoundException.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.http import listing, require_preview
from tests.emulators.ado.state import EmulatorState, Project

API = "/{org}/{project}/_apis"
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")


def wiki_routes(app: FastAPI, state: EmulatorState) -> None:
    wikis = API + "/wiki/wikis"

    @app.get(wikis)
    async def list_wikis(project: str, request: Request) -> dict[str, Any]:
        require_preview(request)
        owner = state.project_of(project)
        return listing([public(w) for w in state.wikis.values() if w["projectId"] == owner.id])

    @app.post(wikis, status_code=201)
    async def create_wiki(project: str, request: Request) -> dict[str, Any]:
        """Wikis - Create (201): one project wiki per project, as in ADO (WikiAlreadyExistsException, 409)."""
        require_preview(request)
        owner = state.project_of(project)
        body = await request.json()
        if body.get("type", "projectWiki") != "projectWiki":
            raise AdoHttpError(400, "The emulator creates project wikis only (type projectWiki).",
                               "WikiOperationNotSupportedException")
        if body.get("projectId") not in (None, owner.id):
            raise AdoHttpError(400, f"projectId {body['projectId']!r} is not the id of project {owner.name}.",
                               "InvalidArgumentValueException")
        name = str(body.get("name") or f"{owner.name}.wiki")
        if any(w["projectId"] == owner.id for w in state.wikis.values()):
            raise AdoHttpError(409, f"A project wiki already exists in project {owner.name}.",
                               "WikiAlreadyExistsException")
        wiki_id = str(uuid.uuid4())
        url = f"{state.base_url}/{state.org}/{owner.id}/_apis/wiki/wikis/{wiki_id}"
        state.wikis[wiki_id] = {
            "id": wiki_id, "versions": [{"version": "wikiMaster"}], "url": url,
            "remoteUrl": f"{state.base_url}/{state.org}/{owner.id}/_wiki/wikis/{wiki_id}",
            "type": "projectWiki", "name": name, "projectId": owner.id, "repositoryId": wiki_id, "mappedPath": "/",
            "_pages": {}, "_next_page": 1,
        }
        return public(state.wikis[wiki_id])

    @app.get(wikis + "/{wiki_identifier}")
    async def get_wiki(project: str, wiki_identifier: str, request: Request) -> dict[str, Any]:
        require_preview(request)
        return public(find_wiki(state, state.project_of(project), wiki_identifier))

    @app.put(wikis + "/{wiki_identifier}/pages")
    async def put_page(project: str, wiki_identifier: str, request: Request) -> JSONResponse:
        """Pages - Create Or Update: 201 created, 200 edited, the page's version in the ETag header."""
        require_preview(request)
        wiki = find_wiki(state, state.project_of(project), wiki_identifier)
        path = page_path(request.query_params.get("path"))
        if path == "/":
            raise AdoHttpError(400, "A page path is required.", "InvalidArgumentValueException")
        content = str((await request.json()).get("content") or "")
        pages = wiki["_pages"]
        current = pages.get(path)
        if_match = request.headers.get("if-match")
        if if_match is None and current is not None:
            raise AdoHttpError(500, f"The page '{path}' specified in the add operation already exists in the wiki. "
                                    "Please specify a new page path.", "WikiPageAlreadyExistsException")
        if if_match is not None:
            version = if_match.strip().removeprefix("W/").strip('"')
            if not SHA1.match(version):
                raise AdoHttpError(400, f"The If-Match header {if_match!r} is not a page version.",
                                   "InvalidArgumentValueException")
            if current is None:
                raise AdoHttpError(404, f"The page '{path}' does not exist.", "WikiPageNotFoundException")
            if version.lower() != etag(current["content"]):
                raise AdoHttpError(412, f"The page '{path}' has been changed by someone else since version "
                                        f"{version}; get it again and retry with its ETag.",
                                   "WikiPageHasConflictsException")
        parent = path.rsplit("/", 1)[0]
        if parent and parent not in pages:
            raise AdoHttpError(404, f"One or more ancestor pages of the page '{path}' does not exist.",
                               "WikiAncestorPageNotFoundException")
        if current is None:
            current = pages[path] = {"id": wiki["_next_page"], "content": content}
            wiki["_next_page"] += 1
        current["content"] = content
        body = wiki_page(wiki, path, include_content=True)
        return JSONResponse(body, status_code=201 if if_match is None else 200,
                            headers={"ETag": f'"{etag(content)}"'})

    @app.get(wikis + "/{wiki_identifier}/pages")
    async def get_page(project: str, wiki_identifier: str, request: Request) -> JSONResponse:
        """Pages - Get Page (JSON): the page with its ETag; its content with includeContent=true."""
        require_preview(request)
        wiki = find_wiki(state, state.project_of(project), wiki_identifier)
        query = request.query_params
        path = page_path(query.get("path"))
        include = query.get("includeContent", "false").lower() == "true"
        body = wiki_page(wiki, path, include_content=include, recursion=query.get("recursionLevel", "none"))
        headers = {"ETag": f'"{etag(wiki["_pages"][path]["content"])}"'} if path != "/" else {}
        return JSONResponse(body, headers=headers)


def etag(content: str) -> str:
    """The git blob id of `content`, ADO's page version."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def page_path(raw: str | None) -> str:
    """ADO's page path: leading slash, no trailing one ("SamplePage731" is "/SamplePage731")."""
    return "/" + (raw or "").strip().strip("/")


def public(wiki: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wiki.items() if not k.startswith("_")}


def find_wiki(state: EmulatorState, project: Project, identifier: str) -> dict[str, Any]:
    for wiki in state.wikis.values():
        if wiki["projectId"] == project.id and identifier in (wiki["id"], wiki["name"]):
            return wiki
    raise AdoHttpError(404, f"The wiki {identifier} does not exist in project {project.name}.",
                       "WikiNotFoundException")


def git_item_path(path: str) -> str:
    """Where ADO keeps the page in the wiki's repository: '-' for spaces, '%2D' for dashes, '.md' appended."""
    return "/".join(part.replace("-", "%2D").replace(" ", "-") for part in path.split("/")) + ".md"


def wiki_page(wiki: dict[str, Any], path: str, *, include_content: bool, recursion: str = "none") -> dict[str, Any]:
    """A WikiPage in the shape of the recorded examples; subpages for recursionLevel oneLevel or full."""
    pages = wiki["_pages"]
    if path != "/" and path not in pages:
        raise AdoHttpError(404, f"The page '{path}' does not exist.", "WikiPageNotFoundException")
    prefix = path.rstrip("/") + "/"
    children = [p for p in pages if p.startswith(prefix) and "/" not in p[len(prefix):]]
    parent = path.rsplit("/", 1)[0] + "/"
    siblings = [p for p in pages if p.startswith(parent) and "/" not in p[len(parent):]]
    encoded = quote(path, safe="")
    page: dict[str, Any] = {
        "path": path,
        "order": siblings.index(path) if path in siblings else 0,
        "isParentPage": bool(children),
        "gitItemPath": git_item_path(path) if path != "/" else "/",
        "subPages": [wiki_page(wiki, child, include_content=False, recursion="full" if recursion == "full" else "none")
                     for child in children] if recursion in ("oneLevel", "full") else [],
        "url": f"{wiki['url']}/pages/{encoded}",
        "remoteUrl": f"{wiki['remoteUrl']}?pagePath={encoded}",
    }
    if path != "/":
        page["id"] = pages[path]["id"]
        if include_content:
            page["content"] = pages[path]["content"]
    return page
