"""An export dropped into the page, written straight into the run's private folder.

Starlette's form parser keeps an uploaded file in memory up to 1 MiB and then in a temporary file
of the system's temporary folder, where other programs (and a crash) could find an export full of
BSNs. :func:`receive_upload` reads the multipart body itself, as it arrives, and writes the file
part only into the folder it is given (the private folder, mode 0700; the file 0600); the few
text fields stay in memory. If anything goes wrong the partial file is removed, and the caller
removes the folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

__all__ = ["Received", "UploadRefused", "receive_upload", "upload_name"]

#: Largest text field of the upload form (the CSRF token and the like are far smaller).
MAX_FIELD_BYTES: Final = 64 * 1024
#: Most text fields the upload form may have.
MAX_FIELDS: Final = 20
_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRefused(Exception):
    """The body is not an upload form the app sent (no multipart body, too many or too large
    fields, more than one file)."""


@dataclass
class Received:
    """The upload form as read: its text fields, and the file written (None: no file chosen).

    Attributes:
        fields: the text fields by name (the last one wins).
        path: the file as written in the folder.
        filename: the file's name as the browser gave it (only its last part).
    """

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    filename: str = ""


def upload_name(filename: str) -> str:
    """The name an uploaded file gets in the private folder: letters, digits, ``._-`` only.

    Example:
        >>> upload_name("../Export 2024 (def).csv"), upload_name("...")
        ('Export_2024_def_.csv', 'export')
    """
    return _NAME.sub("_", Path(filename.replace("\\", "/")).name).lstrip(".") or "export"


class _Parts:
    """The parser's callbacks: text fields in memory, the one file part to ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received = Received()
        self.pending: list[bytes] = []  # file data waiting to be written (off the event loop)
        self.sink: IO[bytes] | None = None
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._data = bytearray()
        self._is_file = False
        self._fields = 0

    def on_part_begin(self) -> None:
        self._disposition, self._name, self._is_file = b"", "", False
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > MAX_FIELD_BYTES:
            raise UploadRefused("a part header is too long")

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise UploadRefused("a part without a name")
        self._name = name.decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                raise UploadRefused("too many fields")
            return
        if self.sink is not None or self.received.path is not None:
            raise UploadRefused("more than one file")
        self._is_file = True
        shown = Path(filename.decode("utf-8", "replace").replace("\\", "/")).name
        if not shown:
            return  # the form sent without a file chosen: an empty part
        path = self.folder / upload_name(shown)
        # O_EXCL and 0600 from the start: never readable by others, not even for a moment
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.sink = os.fdopen(descriptor, "wb")
        self.received.path, self.received.filename = path, shown

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            if self.sink is not None:
                self.pending.append(data[start:end])
            return
        self._data += data[start:end]
        if len(self._data) > MAX_FIELD_BYTES:
            raise UploadRefused("a field is too long")

    def on_part_end(self) -> None:
        if not self._is_file:
            self.received.fields[self._name] = self._data.decode("utf-8", "replace")

    def write_pending(self) -> None:
        if self.sink is not None and self.pending:
            data, self.pending = b"".join(self.pending), []
            self.sink.write(data)


async def receive_upload(request: Request, folder: Path) -> Received:
    """Read the upload form of ``request``, writing its file into ``folder`` as it arrives.

    Raises:
        UploadRefused: not a multipart form, a field too large, too many fields, or two files;
            the partial file is removed.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused("not a multipart form")
    parts = _Parts(folder)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": parts.on_part_begin,
            "on_part_data": parts.on_part_data,
            "on_part_end": parts.on_part_end,
            "on_header_field": parts.on_header_field,
            "on_header_value": parts.on_header_value,
            "on_header_end": parts.on_header_end,
            "on_headers_finished": parts.on_headers_finished,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if parts.pending:
                await run_in_threadpool(parts.write_pending)
        parser.finalize()
        await run_in_threadpool(parts.write_pending)
    except BaseException as error:
        if parts.sink is not None:
            parts.sink.close()
        if parts.received.path is not None:
            parts.received.path.unlink(missing_ok=True)
        if isinstance(error, Exception) and not isinstance(error, UploadRefused):
            raise UploadRefused("the form could not be read") from error
        raise
    finally:
        if parts.sink is not None:
            parts.sink.close()
    return parts.received
