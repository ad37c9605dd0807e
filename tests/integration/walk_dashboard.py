"""Authorization walk for the dashboard area (see test_authorization.py): the dashboard and the
ranking for those who run or oversee the campaign (a group sees its own clues); /api/stats for
everyone signed in, scoped like the ledger."""
ALL = {"office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin"}
DASHBOARD = {"office", "supervisor", "group", "discipline", "admin"}

GET_RULES = [
    ("/dashboard/", DASHBOARD),
    ("/dashboard/?category=arrears_public&registered_from=2023-10-01", DASHBOARD),
    ("/dashboard/ranking", DASHBOARD),
    ("/dashboard/ranking?level=group", DASHBOARD),
]
API_RULES = [
    ("/api/stats", ALL),
    ("/api/stats?by=unit", ALL),
    ("/api/stats?by=light&overdue=1", ALL),
]
