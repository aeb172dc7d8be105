"""Co-op funds: the ledger (the one writer of money movements), allocation, cost rates,
reservations at approval and spend booked from the delivery ledger."""
