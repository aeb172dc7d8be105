"""The campaign catalogue: HQ publishes campaigns (items), a partner orders one for itself.

`items` holds what HQ writes and who may see it; `orders` turns an order into a Campaign that
targets the ordering partner alone, launched like any of HQ's campaigns."""
