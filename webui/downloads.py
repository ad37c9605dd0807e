"""Files handed to the browser as downloads, never rendered at our origin."""
from __future__ import annotations

from io import BytesIO

from flask import Response, send_file


def attachment(content: bytes | str, filename: str, mimetype: str = "application/octet-stream") -> Response:
    """`content` as a download named `filename`.

    A deployed BPMN served inline as XML runs any XHTML `<script>` inside it at our origin
    (issue 18), so definitions go out as opaque bytes with nosniff. send_file quotes the name
    (ASCII fallback plus RFC 5987 `filename*`), so a name cannot break out of the header.
    """
    filename = "".join(ch for ch in filename if ch >= " " and ch != "\x7f") or "download"
    data = content.encode("utf-8") if isinstance(content, str) else content
    response = send_file(BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename,
                         etag=False, conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
