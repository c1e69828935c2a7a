"""The dashboard's read-only queries, one module per page: `strategy` for /strategy, `paper_account`
for /paper-account, `channels` for /channels, and `overview` (what the database holds) for all."""
