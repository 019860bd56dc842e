"""The organisation's administration, above the work it checks and shows.

The city's organisation file (`orgfile`: the format and its checks; `apply`:
writing it to the database, refused while incidents, staff, dispatches or
referrals still use what it would remove; `commands`: `crisis org`) and the
districts and teams API with who is on call (`api`). The rows themselves,
districts and teams, stay in the low `crisis.organisation`, which every
capability may use.
"""
