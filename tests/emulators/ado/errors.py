"""ADO's error envelope, so the client under test parses the same shape the service sends."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def error_body(message: str, type_key: str, error_code: int = 0) -> dict[str, Any]:
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation",
        "typeKey": type_key,
        "errorCode": error_code,
        "eventId": 3000,
    }


class AdoHttpError(Exception):
    """Raised by emulator handlers; rendered as ADO's error body with `status`."""

    def __init__(self, status: int, message: str, type_key: str, error_code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_key, error_code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)
