"""`chengxin init` and `chengxin demo`: schema, processes, Suizhou's units, demo accounts,
a campaign and sample clues in every stage, made by driving the real engine with a clock
that walks through the campaign."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from .campaigns import around, plan_2023
from .clock import SHANGHAI, FixedClock, local_today
from .db.models import Role
from .engine import Engine
from .org import FIVE_GROUPS, SUIZHOU_UNITS, ensure_units_and_groups
from .uscc import with_check_char

DEMO_PASSWORD = "Chengxin@2023"
ROLE_USERS = [
    ("office", "综合办公室 王敏", Role.office, None, None),
    ("group", "机关事业单位拖欠账款清理组 李强", Role.group, None, "arrears_public"),
    ("unit", "曾都区 张伟", Role.unit, "zengdu", None),
    ("spotcheck", "抽查组 刘洋", Role.spotcheck, None, "arrears_public"),
    ("discipline", "纪检监察 陈静", Role.discipline, None, None),
    ("designer", "流程设计 赵磊", Role.designer, None, None),
    ("supervisor", "营商办领导 孙丽", Role.supervisor, None, None),
    ("admin", "系统管理员", Role.admin, None, None),
]


def initialise(engine: Engine) -> dict[str, Any]:
    engine.migrate()
    return {"schema": "up to date", "deployed": engine.deploy_directory()}


def demo_users() -> list[tuple[str, str, Role, str | None, str | None]]:
    users = list(ROLE_USERS)
    users += [(f"unit_{code}", f"{name} 经办人", Role.unit, code, None) for code, name, _ in SUIZHOU_UNITS]
    for code, name, _ in FIVE_GROUPS:
        users += [(f"group_{code}", f"{name} 成员", Role.group, None, code),
                  (f"spotcheck_{code}", f"{name} 抽查员", Role.spotcheck, None, code)]
    return users


def load_demo(engine: Engine, calendar: str | None = None) -> dict[str, Any]:
    """Everything a newcomer needs to click through; refuses to run twice on one database."""
    result = initialise(engine)
    if engine.users():
        return {**result, "demo": "already loaded"}
    today = local_today(engine.clock)
    plan = plan_2023() if calendar == "2023" else around(today)
    walker = Engine(engine.settings, FixedClock(datetime.combine(plan["starts_on"], time(9), SHANGHAI)))
    try:
        with walker.transaction() as ctx:
            ensure_units_and_groups(ctx)
        walker.create_users([(u, d, r.value, unit, g) for u, d, r, unit, g in demo_users()], DEMO_PASSWORD)
        campaign = walker.open_campaign(plan)
        walker.start_unit_reporting("office")
        end = date(2023, 12, 10) if calendar == "2023" else today
        clue_ids = SampleClues(walker, plan, end).make()
    finally:
        walker.dispose()
    return {**result, "campaign": campaign, "users": len(demo_users()), "password": DEMO_PASSWORD,
            "sample_clues": clue_ids}


class SampleClues:
    """Walks sample clues to each stage, moving the clock as a real campaign would."""

    def __init__(self, engine: Engine, plan: dict[str, Any], end: date) -> None:
        self.engine, self.plan, self.end = engine, plan, end
        self.clock: FixedClock = engine.clock  # type: ignore[assignment]
        self.counter = 0

    def at(self, day: date, hour: int = 10) -> None:
        moment = datetime.combine(min(day, self.end), time(hour), SHANGHAI)
        if moment > self.clock.now():
            self.clock.set(moment)
        self.engine.fire_due_timers()

    def add(self, enterprise: str, debtor: str, summary: str, amount: float, source: str = "enterprise_platform") -> int:
        self.counter += 1
        uscc = with_check_char(f"91421300MA4{self.counter:06d}")
        return self.engine.add_clue("office", {"source": source, "enterprise_name": enterprise, "uscc": uscc,
                                                "debtor": debtor, "summary": summary, "amount_owed": amount,
                                                "county": "曾都区"})["clue_id"]

    def do(self, clue_id: int, user: str, data: dict[str, Any]) -> None:
        task = self.engine.tasks(user, clue_id)["items"][0]
        self.engine.complete_task(task["id"], user, data)

    def triage(self, clue_id: int, key: bool = False, category: str = "arrears_public") -> None:
        self.do(clue_id, "office", {"accepted": True, "category": category, "level": "county", "key_problem": key})

    def assign(self, clue_id: int, deadline: date) -> None:
        self.do(clue_id, "group", {"responsible_unit": "zengdu", "deadline": deadline.isoformat(),
                                   "instructions": "请于期限内整改到位并书面反馈"})

    def plan_(self, clue_id: int, deadline: date) -> None:
        self.do(clue_id, "unit", {"measures": "制定分期付款计划，落实资金来源", "plan_deadline": deadline.isoformat(),
                                  "responsible_leader": "区财政局局长", "responsible_person": "张伟",
                                  "contact_phone": "13800000001"})

    def report(self, clue_id: int, paid: float, on: date) -> None:
        self.do(clue_id, "unit", {"amount_paid": paid, "feedback": "已按合同约定支付全部欠款", "completed_on": on.isoformat()})

    def make(self) -> list[int]:
        p, d = self.plan, timedelta
        start = p["starts_on"]
        deadline = p["rectification_ends_on"] - d(days=5)
        self.at(start + d(days=1))
        ids = [self.add("随州市恒达建材有限公司", "曾都区某街道办事处", "道路工程款逾期未付", 1_280_000)]  # triage
        rejected = self.add("随州市顺发商贸有限公司", "某私营企业", "企业间民事纠纷，不属于专项行动范围", 50_000, "letters_visits")
        self.do(rejected, "office", {"accepted": False, "reject_reason": "属企业间民事纠纷，不予受理"})
        assigning = self.add("随州市鑫源机械制造有限公司", "随州高新区管委会", "招商引资奖励未兑现", 3_000_000)
        self.triage(assigning, category="investment")
        planning, overdue, reviewing, closed, checked, referred = (
            self.add(f"随州市{name}有限公司", debtor, summary, amount) for name, debtor, summary, amount in [
                ("华泰园林工程", "曾都区城管局", "绿化养护费拖欠两年", 460_000),
                ("楚风印务", "曾都区教育局", "教材印刷费未结算", 218_000),
                ("金桥物流", "曾都区交通运输局", "运输服务费未支付", 730_000),
                ("安康医疗器械", "曾都区卫健局", "设备采购款以等待审计为由拖延", 1_560_000),
                ("长江电气", "曾都区某国有平台公司", "工程质保金到期未退", 2_400_000),
                ("编钟文化传媒", "曾都区文旅局", "宣传服务费虚报已付", 380_000),
            ])
        for clue_id in (planning, overdue, reviewing, closed, checked, referred):
            self.triage(clue_id, key=clue_id in (checked, referred))
            self.assign(clue_id, deadline)
        for clue_id in (overdue, reviewing, closed, checked, referred):
            self.plan_(clue_id, deadline)
        self.at(start + d(days=20))
        for clue_id in (reviewing, closed, checked, referred):
            self.report(clue_id, 1.0 * 100_000, start + d(days=20))
        for clue_id in (closed, checked, referred):
            self.do(clue_id, "office", {"approved": True, "opinion": "同意销号"})
        ids += [rejected, assigning, planning, overdue, reviewing, closed, checked, referred]
        self.at(p["spot_check_starts_on"] + d(days=1))
        self.do(checked, "spotcheck", {"result": "genuine", "misconduct": False, "findings": "现场核实款项已全部支付",
                                       "checked_on": (p["spot_check_starts_on"] + d(days=1)).isoformat()})
        self.do(referred, "spotcheck", {"result": "fake", "misconduct": True, "findings": "付款凭证系伪造，款项未支付",
                                        "checked_on": (p["spot_check_starts_on"] + d(days=1)).isoformat(),
                                        "new_deadline": (p["spot_check_starts_on"] + d(days=15)).isoformat()})
        spot_check = self.add("随州市汉东食品有限公司", "曾都区某国有粮食企业", "收购货款拖欠", 910_000)
        self.triage(spot_check, key=True)
        self.assign(spot_check, p["spot_check_starts_on"] + d(days=10))
        self.plan_(spot_check, p["spot_check_starts_on"] + d(days=10))
        self.report(spot_check, 910_000, p["spot_check_starts_on"] + d(days=1))
        self.do(spot_check, "office", {"approved": True, "opinion": "同意销号，待抽查"})
        self.at(self.end)
        return ids + [spot_check]
