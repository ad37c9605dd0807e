"""Authorization walk for the deadlines area (see test_authorization.py)."""
ALL = {"office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin"}

GET_RULES = [
    ("/campaign/workdays", ALL),  # the working-day deadline preview under task forms
]
API_RULES: list = []
GET_RULES.append(("/campaign/changes", {"office"}))  # progress of calendar changes (htmx)
