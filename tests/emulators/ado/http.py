"""Small pieces every route module of the ADO emulator shares: ADO's list envelope and its api-version rule
for resources that are still in preview."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from tests.emulators.ado.errors import AdoHttpError


def listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    """ADO wraps every list: the specs declare bare arrays, the service sends `{"value": [...], "count": n}`."""
    return {"value": items, "count": len(items)}


def require_preview(request: Request) -> None:
    """A resource whose 7.1 spec is `x-ms-preview` (its api-version is 7.1-preview.N) refuses a plain version."""
    version = request.query_params["api-version"]
    if "-preview" not in version:
        raise AdoHttpError(400, f"The requested version \"{version}\" of the resource is under preview. The "
                                "-preview flag must be supplied in the api-version for such requests.",
                           "VssInvalidPreviewVersionException")
