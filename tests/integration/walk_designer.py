"""Authorization walk rules for the process designer (webui/designer.py).

Everyone who may see definitions (engine.designer.VIEW_ROLES) gets the read-only pages; the
modeler, which exists to deploy, is the designer's alone.
"""
VIEWERS = {"designer", "office", "supervisor", "admin"}
GET_RULES = [
    ("/designer/", VIEWERS),
    ("/designer/processes/clue_handling/1", VIEWERS),
    ("/designer/processes/clue_handling/1/file/clue_handling.bpmn", VIEWERS),
    ("/designer/processes/clue_handling/diff", VIEWERS),
    ("/designer/processes/clue_handling/1/edit", {"designer"}),
    ("/designer/new", {"designer"}),
    ("/designer/forms/", VIEWERS),
    ("/designer/forms/triage", VIEWERS),
    ("/designer/forms/triage/download", VIEWERS),
]
