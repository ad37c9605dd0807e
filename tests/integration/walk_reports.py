"""Authorization walk for the reports area (see test_authorization.py): the dispatch notice for the
office and the supervisor (read-only: a document changes nothing); the year-end page for them and
for units, each unit downloading only its own summary (the demo `unit` user is zengdu's)."""
NOTICE = {"office", "supervisor"}

GET_RULES = [
    ("/reports/dispatch", NOTICE),
    ("/reports/dispatch/notice.docx", NOTICE),
    ("/reports/year-end", NOTICE | {"unit"}),
    ("/reports/year-end/city.docx", NOTICE),
    ("/reports/year-end/unit/zengdu.docx", NOTICE | {"unit"}),
    ("/reports/year-end/unit/suixian.docx", NOTICE),
]
API_RULES: list = []
