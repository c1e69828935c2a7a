"""The dashboard's read-only queries, one module per page: `strategy` for /strategy, `paper_account`
for /paper-account, and `overview` (what the database holds) for both."""

