"""Problem clues: intake (the collection step, which starts the instance) and reading them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from . import access, lights, money, plausibility, readable, submissions, vocabulary
from .campaigns import current_campaign, process_variables
from .clock import SHANGHAI
from .context import Context
from .db.models import Clue, HumanTask, OrgUnit, ProcessInstance, Role, User, WorkGroup
from .errors import NotFound, ValidationFailed
from .history import events_of
from .instances import start_instance
from .tasks import task_summary

CLUE_PROCESS = "clue_handling"
OPEN_STAGES = ("triage", "assigning", "rectifying", "reviewing", "awaiting_spot_check", "spot_check")
# Who complained stays in the clue row only: process data is shown to every handler.
PRIVATE_FIELDS = ("complainant_name", "complainant_phone")
new_submission_token = submissions.new_token


def intake_form(ctx: Context, username: str) -> dict[str, Any]:
    """The intake form for someone who may register clues.

    :raises Forbidden: only the office collects clues.
    """
    access.require_role(access.get_user(ctx.session, username), Role.office)
    return ctx.runtime.forms.get("intake").to_dict()


def add_clue(ctx: Context, username: str, data: Any, submission_token: str | None = None,
             refuse_changed: bool = False, token_field: str = "submission_token",
             catch_resubmits: bool = False, confirm_warnings: bool = False) -> dict[str, Any]:
    """Record an intake form and start the clue's instance; its first task is triage.

    With a `submission_token` (the intake page's one-time token, or the API's Idempotency-Key)
    the token is taken in this transaction: a second submission with it registers nothing and
    returns the clue of the first with `replayed` true (`same_data` says whether the data
    matched). `refuse_changed` makes a reused token with other data an error instead, as
    Idempotency-Key clients expect. `catch_resubmits` (the intake page) also treats a new token
    with exactly the data the user registered in the last `submissions.RESUBMIT_WINDOW` as that
    registration: Back may re-fetch the form with a new token but the browser refills its fields.

    :raises Forbidden: only the office collects clues. :raises ValidationFailed: bad intake
        data, a malformed token, or (with `refuse_changed`) a token reused for other data.
    :raises ConfirmationRequired: unusual values (engine.plausibility) not confirmed.
    """
    user = access.get_user(ctx.session, username)
    access.require_role(user, Role.office)
    if submission_token is not None:
        earlier = submissions.claim(ctx, user.username, submission_token, "intake", data, field=token_field,
                                    resubmit_window=submissions.RESUBMIT_WINDOW if catch_resubmits else None)
        if earlier is not None:
            if refuse_changed and not earlier.same_data:
                raise ValidationFailed("该提交标识已用于登记另一条线索", {token_field: "已使用，且数据不同"})
            clue = get_clue(ctx, earlier.clue_id)
            return {"clue_id": clue.id, "instance_id": clue.instance_id, "duplicates": [], "replayed": True,
                    "same_data": earlier.same_data}
    intake = ctx.runtime.forms.validate("intake", data)
    plausibility.check(ctx.runtime.forms.get("intake").schema, intake, ctx.now.astimezone(SHANGHAI).date(),
                       confirmed=confirm_warnings)
    clue = create_clue(ctx, intake, user.username, user.role.value)
    if submission_token is not None:
        submissions.record(ctx, user.username, submission_token, clue.id)
    return {"clue_id": clue.id, "instance_id": clue.instance_id, "duplicates": _open_duplicates(ctx, clue),
            "replayed": False}


def create_clues_from_rows(ctx: Context, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Service `create_clues`: each row of a unit's self-inspection list becomes a clue."""
    unit = data.get("unit_code") or "unit"
    created = []
    for row in params.get("rows") or []:
        intake = ctx.runtime.forms.validate("intake", {**row, "source": "self_inspection",
                                                        "county": row.get("county") or data.get("unit_name")})
        created.append(create_clue(ctx, intake, f"unit:{unit}", Role.unit.value).id)
    return {"created": len(created), "clue_ids": created}


def create_clue(ctx: Context, intake: dict[str, Any], actor: str, actor_role: str) -> Clue:
    """Store a validated intake and start its instance (shared by intake, self-inspection and import)."""
    campaign = ctx.cache.get("campaign")
    if campaign is None:
        campaign = ctx.cache["campaign"] = current_campaign(ctx.session)
    clue = Clue(
        campaign_id=campaign.id, source=intake["source"], enterprise_name=intake["enterprise_name"],
        uscc=intake.get("uscc"), debtor=intake["debtor"], summary=intake["summary"],
        amount_owed=money.of(intake.get("amount_owed")),
        complainant_name=intake.get("complainant_name"), complainant_phone=intake.get("complainant_phone"),
        county=intake.get("county"), stage="triage", created_by=actor, created_at=ctx.now, updated_at=ctx.now,
    )
    ctx.session.add(clue)
    ctx.session.flush()
    variables = {k: v for k, v in intake.items() if k not in PRIVATE_FIELDS}
    variables.update(process_variables(campaign), clue_id=clue.id)

    def link(instance: ProcessInstance) -> None:
        clue.instance_id = instance.id

    start_instance(ctx, CLUE_PROCESS, variables, actor, actor_role, business_key=str(clue.id), on_created=link)
    return clue


def _open_duplicates(ctx: Context, clue: Clue) -> list[int]:
    return list(ctx.session.scalars(select(Clue.id).where(
        Clue.enterprise_name == clue.enterprise_name, Clue.debtor == clue.debtor,
        Clue.stage.in_(OPEN_STAGES), Clue.id != clue.id)))


def get_clue(ctx: Context, clue_id: int) -> Clue:
    """:raises NotFound: no such clue."""
    clue = ctx.session.get(Clue, clue_id)
    if clue is None:
        raise NotFound(f"clue {clue_id} does not exist")
    return clue


def clue_record(clue: Clue, include_private: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column in Clue.__table__.columns:
        value = getattr(clue, column.key)
        if column.key in PRIVATE_FIELDS and not include_private:
            continue
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        record[column.key] = value
    record["clue_id"] = record.pop("id")
    return record


def view_clue(ctx: Context, username: str, clue_id: int) -> dict[str, Any]:
    """A clue as one user may see it, with its history.

    :raises NotFound: no such clue. :raises Forbidden: another unit's or group's clue.
    """
    user = access.get_user(ctx.session, username)
    clue = get_clue(ctx, clue_id)
    access.require_can_see_clue(user, clue)
    shown = show_clue(ctx, clue_id, include_private=access.sees_complainant(user), viewer=user)
    unit = ctx.session.get(OrgUnit, clue.responsible_unit) if clue.responsible_unit else None
    group = ctx.session.get(WorkGroup, clue.work_group) if clue.work_group else None
    shown["responsible_unit_name"] = unit.name if unit else None
    shown["work_group_name"] = group.name if group else ("综合办公室" if clue.work_group == "office" else None)
    # The light as the ledger shows it now, not as the last sweep stored it.
    due = lights.deadline_moment(clue.deadline) if clue.deadline else None
    shown["light"] = lights.current(clue.light, clue.light_changes_at, due, ctx.now)
    shown["history"] = vocabulary.name_actors(ctx.session, clue_history(ctx, clue_id)["events"])
    if not access.sees_complainant(user):
        for event in shown["history"]:
            variables = (event["data"] or {}).get("variables")
            if event["kind"] == "instance_started" and isinstance(variables, dict):
                event["data"]["variables"] = {k: v for k, v in variables.items() if k not in PRIVATE_FIELDS}
    # The same events as people read them (labels of each step's own form, names for codes).
    instance = ctx.session.get(ProcessInstance, clue.instance_id) if clue.instance_id else None
    events = events_of(ctx.session, clue.instance_id) if clue.instance_id else []
    people = readable.people_names(ctx, {e.actor for e in events})
    hidden = set() if access.sees_complainant(user) else set(PRIVATE_FIELDS)
    shown["steps"] = [readable.readable_event(ctx, e, instance.definition_id if instance else None, people, hidden)
                      for e in events]
    return shown


def show_clue(ctx: Context, clue_id: int, include_private: bool = True, viewer: User | None = None) -> dict[str, Any]:
    """With a `viewer`, each task says whether that user may open it (`may_open`)."""
    clue = get_clue(ctx, clue_id)
    instance = ctx.session.get(ProcessInstance, clue.instance_id) if clue.instance_id else None
    tasks = ctx.session.scalars(select(HumanTask).where(HumanTask.clue_id == clue.id).order_by(HumanTask.created_at))
    return {**clue_record(clue, include_private=include_private),
            "instance": {"id": instance.id, "status": instance.status.value, "version": instance.version,
                         "next_timer_at": instance.next_timer_at.isoformat() if instance.next_timer_at else None,
                         "error": instance.error_message} if instance else None,
            "tasks": [{**task_summary(t), **({"may_open": access.can_view(viewer, t)} if viewer else {})}
                      for t in tasks]}


def clue_history(ctx: Context, clue_id: int) -> dict[str, Any]:
    clue = get_clue(ctx, clue_id)
    events = events_of(ctx.session, clue.instance_id) if clue.instance_id else []
    return {"clue_id": clue.id, "instance_id": clue.instance_id, "events": [
        {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "actor_role": e.actor_role, "kind": e.kind,
         "task_id": e.task_id, "element_id": e.element_id, "element_name": e.element_name, "data": e.data,
         "hash_alg": e.hash_alg, "hash": e.hash} for e in events]}
