"""Keeps the clue row (the ledger's record) in step with its instance.

The clue's columns are a fold over what each step produced: the form a person submitted,
then what scripts and decisions computed. Counters such as send-backs are read from the
script that counts them, never recomputed from the ledger.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import credit, lights, money, referral_receipt
from .context import Context
from .db.models import Clue, ProcessInstance
from .taskinfo import properties

if TYPE_CHECKING:
    from .instances import Step

# process variable -> clue column
FIELDS = {
    "category": "category", "level": "level", "key_problem": "key_problem", "work_group": "work_group",
    "lead_units": "lead_units", "responsible_unit": "responsible_unit", "deadline": "deadline",
    "amount_paid": "amount_paid", "spot_check_selected": "spot_check_selected", "sendback_count": "sendback_count",
    "result": "spot_check_result",
}
FINAL_STAGES = lights.CLOSED_STAGES


def clue_of(session: Session, instance: ProcessInstance) -> Clue | None:
    # A clue's instance carries the clue id as its business key: a primary-key lookup,
    # usually answered from the session without a query.
    if not (instance.business_key or "").isdigit():
        return None
    clue = session.get(Clue, int(instance.business_key))
    return clue if clue is not None and clue.instance_id == instance.id else None


def project(ctx: Context, clue: Clue, workflow: BpmnWorkflow, step: Step, ready: list[Task]) -> None:
    _apply(clue, step.user_data)
    for task in step.completed:
        if type(task.task_spec).__name__ in ("ScriptTask", "BusinessRuleTask", "ServiceTask"):
            parent = task.parent.data if task.parent is not None else {}
            _apply(clue, {k: v for k, v in task.data.items() if parent.get(k, object()) != v})
    stage = _stage(workflow, step, ready)
    if stage is not None and stage != clue.stage:
        clue.stage = stage
        if stage in FINAL_STAGES and clue.closed_at is None:
            clue.closed_at = ctx.now
    if any(properties(t).get("flag") == "referred" for t in ready):
        clue.referred = True
    credit.record_confirmations(ctx, clue, step, ready)  # 政务信用记录, in this step's transaction
    instance = ctx.session.get(ProcessInstance, clue.instance_id) if clue.instance_id else None
    for task in step.completed:
        if instance is not None and properties(task).get("formKey") == referral_receipt.RECEIPT_FORM:
            referral_receipt.receive_by_task(ctx, clue, instance, str(task.id), step.user_data)
    lights.store_clue_light(ctx, clue)
    clue.updated_at = ctx.now


def _apply(clue: Clue, data: dict[str, Any]) -> None:
    for variable, column in FIELDS.items():
        if variable not in data:
            continue
        value = data[variable]
        if column == "deadline" and isinstance(value, str):
            value = date.fromisoformat(value[:10])
        elif column == "amount_paid" and value is not None:
            value = money.of(value)
        elif column == "key_problem" or (column == "spot_check_selected" and value is not None):
            value = bool(value)
        elif column == "sendback_count" and value is None:
            continue
        setattr(clue, column, value)


def _stage(workflow: BpmnWorkflow, step: Step, ready: list[Task]) -> str | None:
    """Where the clue stands: a person's task first, then a waiting event, then an end reached."""
    for task in ready:
        if "stage" in properties(task):
            return properties(task)["stage"]
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if "stage" in properties(task):
            return properties(task)["stage"]
    for task in reversed(step.completed):
        if type(task.task_spec).__name__ == "EndEvent" and "stage" in properties(task):
            return properties(task)["stage"]
    return None
