"""Deployed process versions: deploy after validation, look up, and parse once per version."""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .db.models import DefinitionFile, ProcessDefinition
from .lanes import Parser
from .errors import DefinitionRejected, NotFound
from .validation import _XML_PARSER, Compiler, check_bundle


def content_hash(files: Iterable[tuple[str, str]], algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    for filename, content in sorted(files):
        digest.update(filename.encode() + b"\0" + content.encode() + b"\0")
    return digest.hexdigest()


def deploy(session: Session, files: list[tuple[str, str | bytes]], deployed_by: str, now: Any,
           compile_script: Compiler, form_keys: set[str], hash_alg: str) -> list[ProcessDefinition]:
    """Validate and store a new version of every executable process in the upload.

    An upload identical to the latest version of a process returns that version unchanged.
    :raises DefinitionRejected: listing each problem with its element id; nothing is stored.
    """
    bundle = check_bundle(files, compile_script, form_keys)
    if bundle.problems:
        raise DefinitionRejected(bundle.problems)
    texts = [(f.filename, f.content) for f in bundle.files]
    digest = content_hash(texts, hash_alg)
    deployed = []
    for process_id in bundle.process_ids:
        latest = latest_definition(session, process_id, required=False)
        if latest is not None and latest.content_hash == digest:
            deployed.append(latest)
            continue
        definition = ProcessDefinition(
            process_id=process_id, name=bundle.process_names[process_id],
            version=(latest.version + 1) if latest else 1, content_hash=digest, hash_alg=hash_alg,
            deployed_by=deployed_by, deployed_at=now,
            files=[DefinitionFile(kind=f.kind, filename=f.filename, content=f.content) for f in bundle.files],
        )
        session.add(definition)
        deployed.append(definition)
    session.flush()
    return deployed


def latest_definition(session: Session, process_id: str, required: bool = True) -> ProcessDefinition | None:
    """The newest deployed version of a process.

    :raises NotFound: when required and nothing is deployed under that id.
    """
    newest = select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_id == process_id)
    definition = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id,
                                        ProcessDefinition.version == newest.scalar_subquery())
    ).first()
    if definition is None and required:
        raise NotFound(f"process {process_id!r} is not deployed")
    return definition


def list_definitions(session: Session) -> list[ProcessDefinition]:
    return list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version)))


class SpecCache:
    """Parsed specs by definition id; a version never changes once deployed, so no expiry."""

    def __init__(self) -> None:
        self._specs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        cached = self._specs.get(definition.id)
        if cached is not None:
            return cached
        return self._parse(definition)

    def get_by_id(self, session: Session, definition_id: int) -> tuple[Any, dict[str, Any]]:
        """Like get(), without loading the definition row when the spec is already parsed."""
        cached = self._specs.get(definition_id)
        if cached is not None:
            return cached
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFound(f"definition {definition_id} does not exist")
        return self._parse(definition)

    def _parse(self, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        parser = Parser()
        for file in definition.files:
            tree = etree.fromstring(file.content.encode(), _XML_PARSER)
            if file.kind == "dmn":
                parser.add_dmn_xml(tree, filename=file.filename)
        for file in definition.files:
            if file.kind == "bpmn":
                parser.add_bpmn_xml(etree.fromstring(file.content.encode(), _XML_PARSER), filename=file.filename)
        spec = parser.get_spec(definition.process_id)
        specs = (spec, parser.get_subprocess_specs(definition.process_id))
        with self._lock:
            self._specs[definition.id] = specs
        return specs
