"""State-only workflow serialization: each instance stores its task tree and data, not the
process spec, which is stored once per deployed version (SPIFF_NOTES §3: 3x smaller, 2-3x
faster). The instance row says which version to parse the spec from."""
from __future__ import annotations

import contextvars
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_spec_for_load: contextvars.ContextVar[tuple[Any, dict[str, Any]]] = contextvars.ContextVar("chengxin_spec")


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec_ref"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs = _spec_for_load.get()
        dct.pop("spec_ref", None)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = StateOnlyWorkflowConverter
_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
SERIALIZER_VERSION = f"state-{_SERIALIZER.VERSION}"


def dump_workflow(workflow: BpmnWorkflow) -> str:
    return _SERIALIZER.serialize_json(workflow)


def load_workflow(state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from its state with the spec of the version it runs on."""
    token = _spec_for_load.set((spec, subprocess_specs))
    try:
        return _SERIALIZER.deserialize_json(state)
    finally:
        _spec_for_load.reset(token)
