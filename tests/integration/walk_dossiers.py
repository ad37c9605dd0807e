"""Authorization walk of the dossiers area (case file, diagram, referrals, credit records)."""
CASE_FILE = {"office", "supervisor", "discipline"}
REFERRAL = {"office", "discipline"}
CREDIT = {"office", "supervisor", "discipline", "admin"}

GET_RULES = [
    ("/dossiers/clue/{a}/case-file.docx", CASE_FILE),
    ("/dossiers/clue/{b}/diagram.png", CASE_FILE),
    ("/dossiers/referrals", REFERRAL),
    ("/dossiers/clue/{a}/referral", REFERRAL),
    ("/dossiers/credit", CREDIT),
    ("/dossiers/credit.xlsx", CREDIT),
]
# The referral dossier exists only for a referred clue (409 otherwise): walked by role in
# tests/integration/test_dossier_pages.py on a clue referred during the test.
NOT_WALKED = {"/dossiers/clue/<int:clue_id>/referral.docx"}
