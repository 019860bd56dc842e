"""The city's districts and teams (with their members in alert order) and the default playbooks:
rows every capability may read. Their administration (the organisation file, the districts and
teams API) is crisis.orgadmin, above the capabilities it checks."""
