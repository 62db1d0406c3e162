"""API keys of the caller's organisation: create (secret shown once), list, revoke."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.bodies import read_json_object, reject_unknown_keys
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.schemas import API_KEY_CREATE
from bonito_logs.api.services import services
from bonito_logs.errors import ValidationError
from bonito_logs.store.keys import check_new_key


@operation("POST", "/api/keys", tag="keys", role="admin",
           summary="Create an API key in the caller's organisation",
           description="The response holds the secret key; it is shown only this once.",
           body=ref("ApiKeyCreate"), ok=ref("NewApiKey"), ok_status=201,
           ok_description="The new key, with its secret")
async def create_key(request: Request, principal: Principal) -> Response:
    body = await read_json_object(request)
    reject_unknown_keys(body, API_KEY_CREATE["properties"])
    problems = check_new_key(body.get("role"), body.get("name"), body.get("email"))
    if problems:
        raise ValidationError(problems=problems)
    created = await services(request).keys.create(
        principal.org_id, body["role"], name=body.get("name"), email=body.get("email"),
    )
    return JSONResponse({"key": created.token, **created.key.to_dict()}, status_code=201)


@operation("GET", "/api/keys", tag="keys", role="admin",
           summary="The organisation's API keys (never their secrets)",
           ok=ref("ApiKeyList"), ok_description="Keys, oldest first, revoked ones included")
async def list_keys(request: Request, principal: Principal) -> Response:
    keys = await services(request).keys.list(principal.org_id)
    return JSONResponse({"items": [key.to_dict() for key in keys]})


@operation("DELETE", "/api/keys/{key_id}", tag="keys", role="admin",
           summary="Revoke an API key, effective on the next request",
           params={"key_id": "the key's id (the part after bnt_)"},
           ok=ref("ApiKey"), ok_description="The revoked key")
async def revoke_key(request: Request, principal: Principal) -> Response:
    key = await services(request).keys.revoke(request.path_params["key_id"], principal.org_id)
    return JSONResponse(key.to_dict())


ROUTES = routes(create_key, list_keys, revoke_key)
