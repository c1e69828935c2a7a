"""The dashboard's read-only queries, one module per page: `strategy` for /strategy, `paper_account`
for /paper-account, and `overview` (what the database holds) for both."""

# tests/trading/test_own_slice.py reads these two as `kevin_dash.data.<name>`.
from kevin_dash.data.paper_account import foreign_positions, open_positions

__all__ = ["foreign_positions", "open_positions"]
