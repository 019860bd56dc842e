"""On-call rotas (jour): who in a team is alerted first, now and for the next days."""
