"""Units' own reporting for a campaign (processes/unit_reporting.bpmn): contacts, the
self-inspection list and the year-end summary, one instance per unit."""
from __future__ import annotations

from sqlalchemy import select

from .campaigns import current_campaign, process_variables
from .context import Context
from .db.models import OrgUnit, ProcessInstance
from .instances import start_instance

REPORTING_PROCESS = "unit_reporting"


def start_unit_reporting(ctx: Context, actor: str) -> list[int]:
    """Start the reporting process for every unit that has none in the current campaign."""
    campaign = current_campaign(ctx.session)
    started = []
    for unit in ctx.session.scalars(select(OrgUnit).order_by(OrgUnit.code)):
        key = f"{campaign.id}:{unit.code}"
        exists = ctx.session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.process_id == REPORTING_PROCESS, ProcessInstance.business_key == key))
        if exists is not None:
            continue
        variables = {"unit_code": unit.code, "unit_name": unit.name, **process_variables(campaign)}
        started.append(start_instance(ctx, REPORTING_PROCESS, variables, actor, "office", business_key=key).id)
    return started
