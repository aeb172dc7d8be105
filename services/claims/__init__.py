"""Co-op claims: drafted from what was really spent, confirmed by the GM, decided by HQ, paid."""
