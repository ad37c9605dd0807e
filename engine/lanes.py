"""Which role a diagram lane stands for.

A lane's `name` is what the diagram shows people (综合办公室, 责任单位 …); the role the engine
routes its tasks by is the lane's `spiffworkflow:properties` property `role` (office, work_group,
responsible_unit, spot_check, discipline). Diagrams written before lanes had the property carry
the role as the name, which is still read. SpiffWorkflow itself takes the lane's name as the task
spec's `lane`, so `Parser` puts the role there instead: every reader of `task_spec.lane`
(projections, access, generic processes) then sees the role, whatever the lane is called.
"""
from __future__ import annotations

from typing import Any

from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
# The roles lanes route to (access.task_audience); a task in no lane goes to whoever started the instance.
LANES = ("office", "work_group", "responsible_unit", "spot_check", "discipline")
ROLE_PROPERTY = "role"


def lane_role(lane: Any) -> str | None:
    """The role of a `bpmn:lane` element: its `role` property, else its name (older diagrams)."""
    for prop in lane.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        if prop.get("name") == ROLE_PROPERTY and (prop.get("value") or "").strip():
            return str(prop.get("value")).strip()
    name = (lane.get("name") or "").strip()
    return name or None


class Parser(SpiffBpmnParser):  # type: ignore[misc]
    """SpiffWorkflow's parser, with each flow node's lane being its lane's role."""

    def _add_diagram_indexes(self, bpmn: Any) -> None:
        key = self._document_key(bpmn)
        known = key in self.document_lanes
        super()._add_diagram_indexes(bpmn)
        if known:
            return
        lanes = self.document_lanes[key]
        for ref in bpmn.iterfind(f".//{{{BPMN_NS}}}flowNodeRef"):
            if ref.text is not None:
                lanes[ref.text] = lane_role(ref.getparent())
