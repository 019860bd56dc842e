"""Retention (gallring) and data-subject exports (issue 9; docs/domain.md "Rules on the data")."""
