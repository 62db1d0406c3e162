"""The email sent when an export ends, to the address of the API key that asked for it.

Sent through the SMTP server of the settings (``smtp_*``), from a thread (smtplib
is blocking). A job that asked for an email but cannot get one says why in
``email_status``/``email_detail``: no address on the key, or no SMTP server set.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage

from bonito_logs.config import Settings
from bonito_logs.store.exports import ExportJob, ExportStore, JobConflict, email_plan

__all__ = ["build_message", "deliver_pending_email", "email_plan", "send_job_email"]

log = logging.getLogger(__name__)


def build_message(job: ExportJob, settings: Settings) -> EmailMessage:
    link = f"{settings.public_url.rstrip('/')}/api/logs/export/{job.job_id}/download"
    status_url = f"{settings.public_url.rstrip('/')}/api/logs/export/{job.job_id}"
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = job.notify_email or ""
    msg["Subject"] = f"Bonito Logs export {job.status}: {job.rows_written} rows ({job.export_format})"
    lines = [f"Your log export {job.job_id} is {job.status}.", ""]
    if job.status == "completed":
        lines += [f"Rows: {job.rows_written}", f"Size: {job.bytes_written} bytes",
                  f"Download (with your API key): {link}",
                  f"Available until: {job.expires_at}"]
    else:
        lines += [f"Rows written before it stopped: {job.rows_written}"]
        if job.error:
            lines.append(f"Reason: {job.error}")
    lines += ["", f"Details: {status_url}"]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _send(msg: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg)


async def send_job_email(job: ExportJob, settings: Settings) -> tuple[str, str | None]:
    """Send the email of a finished job; (email_status, email_detail) afterwards."""
    try:
        await asyncio.to_thread(_send, build_message(job, settings), settings)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("export %s: email not sent: %s", job.job_id, exc)
        return "failed", f"{type(exc).__name__}: {exc}"[:500]
    return "sent", None


async def deliver_pending_email(store: ExportStore, job_id: str, settings: Settings) -> None:
    """Send the email of a finished job whose ``email_status`` is still "pending", and record
    the outcome. Runs after the final state is saved, and again when a redelivered request
    finds it still pending (a crash in between), so the email is sent at least once."""
    found = await store.find(job_id)
    if found is None or not found[0].final or found[0].email_status != "pending":
        return
    job = found[0]
    status, detail = await send_job_email(job, settings)
    for _ in range(5):
        found = await store.find(job_id)
        if found is None:
            return
        current, version = found
        try:
            await store.save(current.with_changes(email_status=status, email_detail=detail), version)
            return
        except JobConflict:
            continue
