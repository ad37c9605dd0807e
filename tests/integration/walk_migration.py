"""Authorization walk of the version-migration pages (webui/migration.py) and the generic API."""
DESIGNERS = {"designer", "admin"}
ALL = {"office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin"}
GET_RULES = [
    ("/migrations/", DESIGNERS),
    ("/migrations/dry-run", DESIGNERS),
]
API_RULES = [
    ("/api/definitions", ALL),
    ("/api/instances", ALL),
]
NOT_WALKED = {"/migrations/progress/<token>", "/api/instances/<instance_id>"}
