"""Staff administration: invitations, one-time links, roles, deactivation, own account."""
