"""Web-to-print orders: creating and reading them (orders), the workflow's database side
(projection, money, documents) and the vendor's callbacks (callbacks)."""
