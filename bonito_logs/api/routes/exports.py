"""Export jobs of the caller's organisation: create, follow, list, cancel or delete, download.

The API only records the job and sends a request message to the exports topic;
the workers (``bonito_logs.streams.exporter``) do the work. Another org's job is
answered exactly like a missing one (404).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from bonito_logs.api import export_schemas  # noqa: F401 - registers the OpenAPI components
from bonito_logs.api.auth import Principal
from bonito_logs.api.bodies import read_json_object
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.services import Services, services
from bonito_logs.errors import Conflict, NotFound, Unavailable
from bonito_logs.store.export_request import parse_export_request
from bonito_logs.store.exports import (
    ExportJob,
    JobConflict,
    email_plan,
    iso,
    new_job_id,
    now,
)

_TRIES = 5
_JOB_PARAM = {"job_id": "the export job's id"}


def _public(svc: Services, job: ExportJob) -> dict:
    return job.to_public(svc.settings.public_url)


@operation("POST", "/api/logs/export", tag="exports", role="member",
           summary="Start an export of the organisation's log records",
           description="Every matching record, without row caps, as CSV, JSON or NDJSON. The job "
                       "runs on the workers; follow it with GET /api/logs/export/{job_id}.",
           body=ref("ExportRequest"), ok=ref("ExportJob"), ok_status=202,
           ok_description="The job, queued")
async def create_export(request: Request, principal: Principal) -> Response:
    svc = services(request)
    export = parse_export_request(await read_json_object(request, empty_is={}))
    key = await svc.keys.get(principal.key_id)
    job = ExportJob(job_id=new_job_id(), org_id=principal.org_id, key_id=principal.key_id,
                    request=export.to_body(), created_at=iso(now()), notify_email=key.email)
    job = job.with_changes()
    version = await svc.exports.create(job)
    try:
        await svc.export_queue.send(job.job_id, job.org_id)
    except Unavailable:
        failed = job.with_changes(status="failed", finished_at=iso(now()),
                                  error="the export request could not be queued (Kafka unavailable)")
        await svc.exports.save(failed, version, refresh=True)
        raise
    location = f"/api/logs/export/{job.job_id}"
    return JSONResponse(_public(svc, job), status_code=202, headers={"Location": location})


@operation("GET", "/api/logs/export", tag="exports", role="member",
           summary="The organisation's export jobs, newest first",
           ok=ref("ExportJobList"), ok_description="Jobs, newest first")
async def list_exports(request: Request, principal: Principal) -> Response:
    svc = services(request)
    jobs = await svc.exports.list(principal.org_id)
    return JSONResponse({"items": [_public(svc, job) for job in jobs]})


@operation("GET", "/api/logs/export/{job_id}", tag="exports", role="member",
           summary="One export job: status, progress, download link",
           params=_JOB_PARAM, ok=ref("ExportJob"), ok_description="The job")
async def get_export(request: Request, principal: Principal) -> Response:
    svc = services(request)
    job, _ = await svc.exports.get(request.path_params["job_id"], principal.org_id)
    return JSONResponse(_public(svc, job))


@operation("DELETE", "/api/logs/export/{job_id}", tag="exports", role="member",
           summary="Cancel a job, or delete a finished one with its file",
           description="A running job is asked to stop (202; it ends as cancelled within seconds "
                       "and no file is kept). A job that has not started is cancelled at once "
                       "(200). A finished job is deleted with its file (204).",
           params=_JOB_PARAM, ok=ref("ExportJob"), ok_status=202,
           ok_description="Cancel requested: the worker stops it",
           responses={200: ("Cancelled at once (it had not started)", ref("ExportJob")),
                      204: ("Deleted, with its file", None)})
async def delete_export(request: Request, principal: Principal) -> Response:
    svc = services(request)
    job_id = request.path_params["job_id"]
    for _ in range(_TRIES):
        job, version = await svc.exports.get(job_id, principal.org_id)
        try:
            if job.final:
                if job.file_key:
                    await svc.export_files.delete(job.file_key)
                await svc.exports.delete(job_id, version)
                return Response(status_code=204)
            if job.status == "queued" or job.lease_expired():
                status, detail = email_plan(job, svc.settings)
                cancelled = job.with_changes(
                    status="cancelled", cancel_requested=True, finished_at=iso(now()),
                    owner=None, lease_expires_at=None, email_status=status, email_detail=detail)
                await svc.exports.save(cancelled, version, refresh=True)
                return JSONResponse(_public(svc, cancelled), status_code=200)
            asked = job.with_changes(cancel_requested=True)
            await svc.exports.save(asked, version, refresh=True)
            return JSONResponse(_public(svc, asked), status_code=202)
        except JobConflict:
            continue  # the worker wrote progress meanwhile: decide again on a fresh read
    raise Conflict("the export job keeps changing; try again")


@operation("GET", "/api/logs/export/{job_id}/download", tag="exports", role="member",
           summary="Download a completed export's file",
           description="Streamed with its Content-Type (text/csv, application/json, "
                       "application/x-ndjson, or application/gzip when compressed) and an "
                       "attachment Content-Disposition. With S3 storage the answer may be a "
                       "redirect to a short-lived presigned URL.",
           params=_JOB_PARAM, ok={"type": "string", "format": "binary"},
           ok_media_type="application/octet-stream", ok_description="The file",
           responses={307: ("Redirect to a short-lived presigned URL (S3 storage)", None),
                      409: ("The export is not completed (yet, or any more)", ref("Error"))})
async def download_export(request: Request, principal: Principal) -> Response:
    svc = services(request)
    job, _ = await svc.exports.get(request.path_params["job_id"], principal.org_id)
    if job.status != "completed" or not job.file_key:
        raise Conflict(f"export is {job.status}; only a completed export can be downloaded")
    name = job.file_name or f"export-{job.job_id}"
    content_type = job.content_type or "application/octet-stream"
    download = await svc.export_files.open_download(job.file_key, name, content_type)
    if download is None:
        raise NotFound("the export's file no longer exists")
    if download.url is not None:
        return RedirectResponse(download.url, status_code=307)
    if download.path is not None:
        return FileResponse(download.path, media_type=content_type, filename=name)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return StreamingResponse(download.chunks, media_type=content_type, headers=headers)


# /{job_id}/download and /{job_id} before nothing else here; the module's routes go before
# the logs routes, whose /api/logs/{record_id} would otherwise take /api/logs/export.
ROUTES = routes(create_export, list_exports, get_export, delete_export, download_export)
