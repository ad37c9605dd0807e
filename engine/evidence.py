"""Evidence files of a clue (contracts, payment vouchers, written feedback, on-site photos).

The bytes live on disk, content-addressed by their hash (`<first 2 hex>/<hex>` under the
evidence directory); the `evidence` row and an `evidence_attached` history event record who
attached what, so the instance's hash chain also vouches for every file's hash. The type is
judged from the content, never from the name alone, and the name's extension must agree.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import select

from . import access, audit
from .clues import get_clue
from .context import Context
from .db.models import Clue, Evidence, HumanTask, ProcessInstance, Role, User
from .errors import EngineError, Forbidden, NotFound, ValidationFailed
from .history import append_event
from .settings import PACKAGE_ROOT

log = logging.getLogger(__name__)

DEFAULT_EVIDENCE_DIR = PACKAGE_ROOT / "instance" / "evidence"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_FILENAME = 200  # the width of evidence.filename
# Supervisors and inspectors read the file; only those who handle the clue add to it.
ATTACHING_ROLES = frozenset({Role.office, Role.group, Role.unit, Role.spotcheck})

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
TEXT = "text/plain"

# Allowed media type -> the extensions a name of that type may carry.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",), JPEG: (".jpg", ".jpeg"), PNG: (".png",), WEBP: (".webp",),
    DOCX: (".docx",), XLSX: (".xlsx",), TEXT: (".txt",),
}
LABELS = {PDF: "PDF 文档", JPEG: "JPEG 图片", PNG: "PNG 图片", WEBP: "WebP 图片", DOCX: "Word 文档",
          XLSX: "Excel 表格", TEXT: "纯文本", ZIP: "ZIP 压缩包"}
# An OOXML package must hold parts of its own kind: a .docx renamed to .xlsx is refused.
OOXML = {".docx": (DOCX, "word/"), ".xlsx": (XLSX, "xl/")}
ALLOWED_HINT = "仅接受 PDF、JPEG/PNG/WebP 图片、Word（.docx）、Excel（.xlsx）和 UTF-8 文本（.txt）"
# Text that browsers would render as a page (or run) is not "plain text" whatever its name.
MARKUP_STARTS = ("<!doctype", "<html", "<svg", "<?xml", "<script", "<head", "<body", "<iframe")
STORAGE_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{16,128}$")


# --- who ------------------------------------------------------------------------------------
def require_can_attach(user: User, clue: Clue) -> None:
    """:raises Forbidden: the user cannot see the clue, or the role only reads evidence."""
    access.require_can_see_clue(user, clue)
    if user.role not in ATTACHING_ROLES:
        raise Forbidden(f"the role {user.role.value} may not attach evidence; {user.username!r} is {user.role.value}")


# --- what -----------------------------------------------------------------------------------
def clean_filename(name: str) -> str:
    """The base name without path parts or control characters, at most 200 characters.

    :raises ValidationFailed: nothing usable is left of the name.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    # Cc: control characters; Cf: invisible format marks such as U+202E, which makes
    # "凭证\u202efdp.exe" display as "凭证exe.pdf".
    base = "".join(ch for ch in base if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")).strip()
    if base in ("", ".", ".."):
        raise ValidationFailed("empty file name", {"file": "文件名不能为空"})
    if len(base) > MAX_FILENAME:
        # Keep the extension: it is what the type check and the downloader rely on.
        suffix = Path(base).suffix if len(Path(base).suffix) <= 16 else ""
        base = base[:MAX_FILENAME - len(suffix)].rstrip() + suffix
    return base


def detect_media_type(filename: str, content: bytes) -> str:
    """The media type of `content`, which must be an allowed one agreeing with `filename`'s extension.

    :raises ValidationFailed: the content is of a refused type, damaged, or not what the name says.
    """
    ext = Path(filename).suffix.lower()
    kind = filetype.guess(content)
    if kind is None:
        return _plain_text(ext, content)
    if kind.mime in (ZIP, DOCX, XLSX):
        return _office_document(ext, kind.mime, content)
    if kind.mime not in EXTENSIONS:
        raise ValidationFailed(f"refused type {kind.mime}",
                               {"file": f"不支持的文件类型：{_label(kind.mime, kind.extension)}。{ALLOWED_HINT}"})
    _require_extension(ext, kind.mime)
    return str(kind.mime)


def _label(mime: str, extension: str | None = None) -> str:
    if mime in LABELS:
        return LABELS[mime]
    return f"{extension.upper()}（{mime}）" if extension else mime


def _mismatch(ext: str, mime: str) -> ValidationFailed:
    shown = ext or "（无扩展名）"
    return ValidationFailed(f"content is {mime}, name says {ext or 'nothing'}",
                            {"file": f"文件实际为 {_label(mime)}，与扩展名 {shown} 不符"})


def _require_extension(ext: str, mime: str) -> None:
    if ext not in EXTENSIONS[mime]:
        raise _mismatch(ext, mime)


def _plain_text(ext: str, content: bytes) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("unrecognised binary content",
                               {"file": f"无法识别的文件类型（文本文件须为 UTF-8 编码）。{ALLOWED_HINT}"}) from None
    if "\x00" in text:
        raise ValidationFailed("text with NUL bytes", {"file": f"无法识别的文件类型。{ALLOWED_HINT}"})
    if text.lstrip("\ufeff \t\r\n")[:64].lower().startswith(MARKUP_STARTS):
        raise ValidationFailed("markup (HTML/SVG/XML) refused",
                               {"file": f"不支持的文件类型：HTML/SVG/XML 标记文件。{ALLOWED_HINT}"})
    _require_extension(ext, TEXT)
    return TEXT


def _office_document(ext: str, detected: str, content: bytes) -> str:
    if ext not in OOXML:
        if detected == ZIP:
            raise ValidationFailed("zip archive refused", {"file": f"不支持的文件类型：ZIP 压缩包。{ALLOWED_HINT}"})
        raise _mismatch(ext, detected)
    expected, part_prefix = OOXML[ext]
    # filetype names the Office kind only when the parts it looks for come first; a plain
    # "zip" verdict is settled by the package's own table of contents below.
    if detected != ZIP and detected != expected:
        raise _mismatch(ext, detected)
    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise ValidationFailed("damaged zip", {"file": f"{LABELS[expected]}已损坏，无法打开"}) from None
    if "[Content_Types].xml" not in names or not any(n.startswith(part_prefix) for n in names):
        raise ValidationFailed(f"not a {ext} package", {"file": f"文件不是有效的{LABELS[expected]}（{ext}）"})
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        # Macros have no place in evidence, and Office itself refuses them in .docx/.xlsx.
        raise ValidationFailed("macro-enabled document", {"file": "不接受含宏的 Office 文档"})
    return expected


def _human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} 字节"


def check_size(content: bytes, max_bytes: int) -> None:
    """:raises ValidationFailed: the file is empty or larger than `max_bytes`."""
    if not content:
        raise ValidationFailed("empty file", {"file": "文件为空"})
    if len(content) > max_bytes:
        raise ValidationFailed(f"file of {len(content)} bytes exceeds {max_bytes}",
                               {"file": f"文件大小 {_human_size(len(content))}，超过 {_human_size(max_bytes)} 上限"})


# --- where ----------------------------------------------------------------------------------
def evidence_dir(ctx: Context, override: Path | None = None) -> Path:
    """The evidence directory: `override`, else the settings' (when it has one), else instance/evidence."""
    if override is not None:
        return Path(override)
    configured = getattr(ctx.runtime.settings, "evidence_dir", None)
    return Path(configured) if configured else DEFAULT_EVIDENCE_DIR


def max_evidence_bytes(ctx: Context, override: int | None = None) -> int:
    """The size limit: `override`, else the settings' (when it has one), else 20 MiB."""
    if override is not None:
        return override
    return int(getattr(ctx.runtime.settings, "evidence_max_bytes", None) or DEFAULT_MAX_BYTES)


def storage_key_of(digest: str) -> str:
    return f"{digest[:2]}/{digest}"


def _path_of(base: Path, storage_key: str) -> Path:
    """:raises EngineError: the row's key is not one this module writes (the row was edited)."""
    if not STORAGE_KEY.fullmatch(storage_key):
        raise EngineError(f"evidence storage key {storage_key!r} is not valid")
    return base / storage_key


def _store(base: Path, storage_key: str, content: bytes, hash_alg: str, digest: str) -> None:
    """Write `content` at its key: temp file, fsync, rename, so no reader ever sees half a file.

    :raises OSError: the disk refused (the caller's transaction then rolls back).
    """
    target = _path_of(base, storage_key)
    if target.exists():
        # Same hash, same bytes: nothing to write, unless the copy there was altered, in which
        # case the bytes we hold are the right ones and put it back.
        if hashlib.new(hash_alg, target.read_bytes()).hexdigest() == digest:
            return
        log.warning("evidence file %s did not match its hash; rewriting it", storage_key)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is; not possible on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- operations -----------------------------------------------------------------------------
def evidence_summary(row: Evidence) -> dict[str, Any]:
    return {"id": row.id, "clue_id": row.clue_id, "filename": row.filename, "media_type": row.media_type,
            "size": row.size, "hash": row.content_hash, "hash_alg": row.hash_alg, "stage": row.stage,
            "task_id": row.task_id, "uploaded_by": row.uploaded_by, "uploaded_at": row.uploaded_at.isoformat()}


def attach_evidence(ctx: Context, username: str, clue_id: int, filename: str, content: bytes,
                    task_id: str | None = None, *, storage_dir: Path | None = None,
                    max_bytes: int | None = None) -> dict[str, Any]:
    """Store a file as evidence of a clue and record it in the clue's history.

    :raises NotFound: unknown user or clue. :raises Forbidden: the user cannot see the clue or
    may not attach. :raises ValidationFailed: empty, too large, refused type, name and content
    disagree, or `task_id` is not a ready task of this clue.
    """
    user = access.get_user(ctx.session, username)
    clue = get_clue(ctx, clue_id)
    # Checked before the content so that a stranger learns nothing from the validation messages.
    require_can_attach(user, clue)
    check_size(content, max_evidence_bytes(ctx, max_bytes))
    name = clean_filename(filename)
    media_type = detect_media_type(name, content)
    if clue.instance_id is None:
        raise EngineError(f"clue {clue.id} has no process instance to record evidence in")
    # The history chain is per instance: the row lock keeps two uploads (or an upload and a
    # task completion) from taking the same seq on PostgreSQL.
    instance = ctx.session.get(ProcessInstance, clue.instance_id, with_for_update=True)
    if instance is None:
        raise EngineError(f"instance {clue.instance_id} of clue {clue.id} does not exist")
    # Whoever held the lock may have moved the clue on (stage, responsible unit): read it again.
    ctx.session.refresh(clue)
    require_can_attach(user, clue)
    if task_id is not None:
        _require_task_of_clue(ctx, task_id, clue)
    hash_alg = ctx.hash_alg
    digest = hashlib.new(hash_alg, content).hexdigest()
    row = Evidence(clue_id=clue.id, task_id=task_id, stage=clue.stage, filename=name, media_type=media_type,
                   size=len(content), content_hash=digest, hash_alg=hash_alg, storage_key=storage_key_of(digest),
                   uploaded_by=user.username, uploaded_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    append_event(ctx.session, instance, ctx.now, user.username, "evidence_attached", hash_alg,
                 actor_role=user.role.value, task_id=task_id,
                 data={"evidence_id": row.id, "filename": name, "media_type": media_type, "size": len(content),
                       "hash": digest, "hash_alg": hash_alg})
    # Database first, disk last: a refused row writes no file, and a commit that fails after
    # the write leaves only an unreferenced, content-addressed file (harmless, collectable).
    ctx.session.flush()
    _store(evidence_dir(ctx, storage_dir), row.storage_key, content, hash_alg, digest)
    return evidence_summary(row)


def _require_task_of_clue(ctx: Context, task_id: str, clue: Clue) -> None:
    """:raises ValidationFailed: `task_id` is not a ready task of `clue` (the history would lie)."""
    task = ctx.session.get(HumanTask, task_id) if len(task_id) <= 36 else None
    if task is None or task.clue_id != clue.id:
        raise ValidationFailed(f"task {task_id!r} is not a ready task of clue {clue.id}",
                               {"task_id": "该任务不属于此线索或已办结"})


def list_evidence(ctx: Context, username: str, clue_id: int) -> list[dict[str, Any]]:
    """The clue's evidence, oldest first.

    :raises NotFound: unknown user or clue. :raises Forbidden: the user cannot see the clue.
    """
    user = access.get_user(ctx.session, username)
    clue = get_clue(ctx, clue_id)
    access.require_can_see_clue(user, clue)
    rows = ctx.session.scalars(select(Evidence).where(Evidence.clue_id == clue.id).order_by(Evidence.id))
    return [evidence_summary(r) for r in rows]


def open_evidence(ctx: Context, username: str, evidence_id: int, *,
                  storage_dir: Path | None = None) -> tuple[dict[str, Any], bytes]:
    """One evidence file's summary and bytes, checked against the recorded hash; the download is in
    the security audit.

    :raises NotFound: unknown user or evidence. :raises Forbidden: the user cannot see its clue.
    :raises EngineError: the stored file is missing or no longer matches its hash.
    """
    user = access.get_user(ctx.session, username)
    row = ctx.session.get(Evidence, evidence_id)
    if row is None:
        raise NotFound(f"evidence {evidence_id} does not exist")
    access.require_can_see_clue(user, get_clue(ctx, row.clue_id))
    path = _path_of(evidence_dir(ctx, storage_dir), row.storage_key)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        log.error("evidence %s: file %s is missing", row.id, row.storage_key)
        raise EngineError(f"evidence file missing (evidence {row.id})") from None
    # The stored algorithm, not today's setting, so a change of algorithm keeps old files verifiable.
    if len(content) != row.size or hashlib.new(row.hash_alg, content).hexdigest() != row.content_hash:
        log.error("evidence %s: file %s does not match its recorded hash", row.id, row.storage_key)
        raise EngineError(f"evidence file altered (evidence {row.id})")
    audit.record_download(ctx, user.username, "evidence", target=f"evidence:{row.id}", clue=row.clue_id,
                          filename=row.filename)
    return evidence_summary(row), content
