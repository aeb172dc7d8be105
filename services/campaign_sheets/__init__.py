"""Campaign sheets: HQ's campaign plan uploaded as XLSX or CSV (docs/campaign-sheets.md)."""
