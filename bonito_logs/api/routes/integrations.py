"""Integrations of the caller's organisation: forwarding its records to Datadog, Splunk HEC,
CloudWatch Logs or a signed webhook.

Admins manage them; members may list and read them; viewers get 403. Another org's
integration is answered exactly like a missing one (404). Credentials are encrypted at
rest and only ever shown masked. The workers pick up every change within a few seconds
(``bonito_logs.streams.forwarding``); the API talks to them only through OpenSearch and Kafka.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs import connectors
from bonito_logs.api import integration_schemas  # noqa: F401 - registers the OpenAPI components
from bonito_logs.api.auth import Principal
from bonito_logs.api.bodies import read_json_object
from bonito_logs.api.integration_body import check_settings, parse_create, parse_patch
from bonito_logs.api.integration_view import integration_json
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.routes import integration_dlq
from bonito_logs.api.services import Services, services
from bonito_logs.crypto import (
    CredentialsError,
    decrypt_credentials,
    encrypt_credentials,
    mask_credentials,
)
from bonito_logs.errors import ValidationError
from bonito_logs.store.integrations import Integration, iso, new_integration_id, now

_ID = {"integration_id": "the integration's id"}


async def _shown(svc: Services, integrations: list[Integration]) -> list[dict]:
    ids = [i.integration_id for i in integrations]
    reports, numbers = await asyncio.gather(svc.integration_status.for_integrations(ids),
                                            svc.forwarding.numbers(integrations))
    return [integration_json(i, reports.get(i.integration_id, []), numbers.get(i.integration_id, {}),
                             svc.settings) for i in integrations]


def _stored_credentials(svc: Services, integration: Integration) -> dict:
    try:
        return decrypt_credentials(integration.credentials, svc.settings)
    except CredentialsError:
        raise ValidationError("credentials", "the stored credentials cannot be decrypted with the "
                                             "configured keys; send them again") from None


@operation("POST", "/api/logs/integrations", tag="integrations", role="admin",
           summary="Create an integration forwarding the organisation's records to a destination",
           description="Forwarding starts within seconds, from the records that arrive after "
                       "creation on. `config` and `credentials` are checked with the destination "
                       "type's rules; every broken rule is named (422).",
           body=ref("IntegrationCreate"), ok=ref("Integration"), ok_status=201,
           ok_description="The integration, credentials masked")
async def create_integration(request: Request, principal: Principal) -> Response:
    svc = services(request)
    given = await parse_create(await read_json_object(request), svc.settings)
    created = iso(now())
    integration = Integration(
        integration_id=new_integration_id(), org_id=principal.org_id, name=given.name,
        integration_type=given.integration_type, config=given.config,
        credentials=encrypt_credentials(given.credentials, svc.settings),
        credentials_masked=mask_credentials(given.credentials), filters=given.filters,
        enabled=given.enabled, created_at=created, updated_at=created, created_by=principal.key_id,
        start_offsets=await svc.forwarding.start_offsets())
    await svc.integrations.create(integration)
    (shown,) = await _shown(svc, [integration])
    return JSONResponse(shown, status_code=201,
                        headers={"Location": f"/api/logs/integrations/{integration.integration_id}"})


@operation("GET", "/api/logs/integrations", tag="integrations", role="member",
           summary="The organisation's integrations with their state",
           ok=ref("IntegrationList"), ok_description="Integrations, oldest first")
async def list_integrations(request: Request, principal: Principal) -> Response:
    svc = services(request)
    return JSONResponse({"items": await _shown(svc, await svc.integrations.list(principal.org_id))})


@operation("GET", "/api/logs/integrations/{integration_id}", tag="integrations", role="member",
           summary="One integration: settings (credentials masked) and state",
           description="`state`: health (ok, failing, circuit_open, pending, disabled), last "
                       "success, last error with the destination's reason, records forwarded, "
                       "records in the dead-letter queue, consumer lag.",
           params=_ID, ok=ref("Integration"), ok_description="The integration")
async def get_integration(request: Request, principal: Principal) -> Response:
    svc = services(request)
    integration, _ = await svc.integrations.get(request.path_params["integration_id"], principal.org_id)
    (shown,) = await _shown(svc, [integration])
    return JSONResponse(shown)


@operation("PATCH", "/api/logs/integrations/{integration_id}", tag="integrations", role="admin",
           summary="Change an integration: name, config, credentials, filters, enabled",
           description="Settings are checked as on creation. Enable or disable with "
                       "`{\"enabled\": false}`. The workers apply the change within seconds.",
           params=_ID, body=ref("IntegrationPatch"), ok=ref("Integration"),
           ok_description="The integration after the change",
           responses={409: ("Changed by another request meanwhile; read it and try again", ref("Error"))})
async def patch_integration(request: Request, principal: Principal) -> Response:
    svc = services(request)
    changes = parse_patch(await read_json_object(request))
    current, version = await svc.integrations.get(request.path_params["integration_id"],
                                                  principal.org_id)
    if "config" in changes or "credentials" in changes or changes.get("enabled") is True:
        credentials = changes.get("credentials")
        if credentials is None:
            credentials = _stored_credentials(svc, current)
        problems = await check_settings(current.integration_type, changes.get("config", current.config),
                                        credentials, svc.settings)
        if problems:
            raise ValidationError(problems=problems)
    if "credentials" in changes:
        plain = changes.pop("credentials")
        changes["credentials"] = encrypt_credentials(plain, svc.settings)
        changes["credentials_masked"] = mask_credentials(plain)
    updated = current.with_changes(**changes)
    await svc.integrations.save(updated, version)
    (shown,) = await _shown(svc, [updated])
    return JSONResponse(shown)


@operation("DELETE", "/api/logs/integrations/{integration_id}", tag="integrations", role="admin",
           summary="Delete an integration; its forwarders stop within seconds",
           params=_ID, ok=None, ok_status=204, ok_description="Deleted")
async def delete_integration(request: Request, principal: Principal) -> Response:
    svc = services(request)
    integration, version = await svc.integrations.get(request.path_params["integration_id"],
                                                      principal.org_id)
    await svc.integrations.delete(integration.integration_id, version)
    try:  # reports of workers gone silent; live workers remove theirs once their forwarder stopped
        await svc.integration_status.delete_for(integration.integration_id,
                                                silent_for_s=svc.settings.api_worker_live_s)
    except Exception:  # noqa: BLE001 - status documents of a deleted integration are never read
        pass
    return Response(status_code=204)


@operation("POST", "/api/logs/integrations/{integration_id}/test", tag="integrations", role="admin",
           summary="Check the integration against its destination with a real request",
           description="`ok` is the destination's verdict and `message` its reason. Settings are "
                       "checked first, the destination address included (422 when refused).",
           params=_ID, ok=ref("IntegrationTestResult"), ok_description="The destination's answer")
async def test_integration(request: Request, principal: Principal) -> Response:
    svc = services(request)
    integration, _ = await svc.integrations.get(request.path_params["integration_id"], principal.org_id)
    credentials = _stored_credentials(svc, integration)
    problems = await check_settings(integration.integration_type, integration.config, credentials,
                                    svc.settings)
    if problems:
        raise ValidationError(problems=problems)
    connector = connectors.create_connector(integration.integration_type, integration.config,
                                            credentials, org_id=integration.org_id,
                                            settings=svc.settings)
    limit = svc.settings.connector_timeout_s * 2 + 5
    try:
        result = await asyncio.wait_for(connector.check(), timeout=limit)
    except TimeoutError:
        body = {"ok": False, "message": f"the destination did not answer within {limit:g}s",
                "status": None}
    else:
        body = result.to_json()
    finally:
        await connector.close()
    return JSONResponse(body)


# Every path here is under /api/logs/: these routes go before the logs routes, whose
# /api/logs/{record_id} would otherwise take GET /api/logs/integrations.
ROUTES = routes(create_integration, list_integrations, get_integration, patch_integration,
                delete_integration, test_integration) + integration_dlq.ROUTES
