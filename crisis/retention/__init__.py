"""Retention (gallring) and data-subject exports (issue 9; DOMAIN.md "Legal constraints on the data")."""
