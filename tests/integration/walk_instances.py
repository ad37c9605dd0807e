"""Authorization walk of the instance pages (engine.instance_view.MONITORS): the supervisor, the
office, discipline inspectors and the administrator see every instance, the work group its own
group's (both walk clues are led by the demo group); units, spot-checkers and designers none."""
MONITORS = {"supervisor", "office", "discipline", "admin", "group"}

GET_RULES = [
    ("/instances/", MONITORS),
    ("/instances/errors", MONITORS),
    ("/instances/clue/{a}", MONITORS),
    ("/instances/clue/{b}", MONITORS),
]
# An instance id is made during each test; tests/integration/test_instance_pages.py walks these.
NOT_WALKED = {"/instances/<int:instance_id>", "/instances/<int:instance_id>/diagram.bpmn"}
