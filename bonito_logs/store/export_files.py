"""Where finished export files live: a local folder (default) or an S3 bucket.

An export is always written to a local temporary file first (``temp_path``);
``publish`` makes it visible in one step (a rename, or an S3 upload that only
exists once complete), so no partial file is ever downloadable. Keys are
``<org_id>/<job_id>.<ext>``; the API and the workers share the storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonito_logs.config import Settings

CHUNK_BYTES = 1024 * 1024


def file_key(org_id: str, job_id: str, extension: str) -> str:
    return f"{org_id}/{job_id}.{extension}"


@dataclass(frozen=True)
class Download:
    """How to hand a file out: a local ``path``, a presigned ``url``, or ``chunks`` to stream."""

    path: Path | None = None
    url: str | None = None
    chunks: AsyncIterator[bytes] | None = None
    size: int | None = None


class ExportFiles:
    """Local folder storage; ``S3ExportFiles`` overrides the publishing side."""

    storage = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.exports_path
        self.temp_root = self.root / ".tmp"

    @classmethod
    def for_settings(cls, settings: Settings) -> ExportFiles:
        return S3ExportFiles(settings) if settings.exports_s3_bucket else cls(settings)

    def temp_path(self, job_id: str, attempt: int) -> Path:
        """The private file one attempt of a job writes (``<job>.<attempt>.part``)."""
        self.temp_root.mkdir(parents=True, exist_ok=True)
        return self.temp_root / f"{job_id}.{attempt}.part"

    def temp_files(self) -> list[tuple[Path, str, int]]:
        """(path, job id, attempt) of every temporary file, for housekeeping."""
        out = []
        if not self.temp_root.is_dir():
            return out
        for path in self.temp_root.glob("*.part"):
            job_id, _, attempt = path.name[:-len(".part")].rpartition(".")
            if job_id and attempt.isdigit():
                out.append((path, job_id, int(attempt)))
        return out

    def _local(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"export key escapes the export folder: {key!r}")
        return path

    async def publish(self, temp: Path, key: str, content_type: str) -> None:
        """Make ``temp`` the file ``key`` in one step (fsync, then rename)."""
        target = self._local(key)

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, target)

        await asyncio.to_thread(move)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._local(key).unlink)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._local(key).is_file)

    async def open_download(self, key: str, file_name: str, content_type: str) -> Download | None:
        """How to serve ``key``; ``None`` when the file is gone."""
        path = self._local(key)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None
        return Download(path=path, size=size)

    async def aclose(self) -> None:
        return None


class S3ExportFiles(ExportFiles):
    """Files in ``exports_s3_bucket`` under ``exports_s3_prefix`` (boto3, run in threads)."""

    storage = "s3"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.bucket = settings.exports_s3_bucket
        self.prefix = settings.exports_s3_prefix
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:  # lazily: importing boto3 costs ~0.3 s
            import boto3

            self._client = boto3.client(
                "s3", region_name=self.settings.exports_s3_region,
                endpoint_url=self.settings.exports_s3_endpoint_url or None)
        return self._client

    def object_key(self, key: str) -> str:
        return self.prefix + key

    async def publish(self, temp: Path, key: str, content_type: str) -> None:
        """Upload (multipart for big files: the object appears only when complete), then
        remove the temporary file."""
        await asyncio.to_thread(self.client.upload_file, str(temp), self.bucket,
                                self.object_key(key), ExtraArgs={"ContentType": content_type})
        await asyncio.to_thread(temp.unlink, missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket,
                                Key=self.object_key(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket,
                                    Key=self.object_key(key))
        except ClientError:
            return False
        return True

    async def open_download(self, key: str, file_name: str, content_type: str) -> Download | None:
        from botocore.exceptions import ClientError

        object_key = self.object_key(key)
        if self.settings.exports_s3_redirect:
            url = await asyncio.to_thread(
                self.client.generate_presigned_url, "get_object",
                Params={"Bucket": self.bucket, "Key": object_key,
                        "ResponseContentType": content_type,
                        "ResponseContentDisposition": f'attachment; filename="{file_name}"'},
                ExpiresIn=self.settings.exports_presign_s)
            return Download(url=url)
        try:
            obj = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=object_key)
        except ClientError:
            return None
        return Download(chunks=_chunks(obj["Body"]), size=obj.get("ContentLength"))


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    """The object's bytes, a chunk at a time (never the whole file in memory)."""
    try:
        while chunk := await asyncio.to_thread(body.read, CHUNK_BYTES):
            yield chunk
    finally:
        body.close()
