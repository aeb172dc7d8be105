"""Lifecycle journeys: HQ designs them as data, a partner switches them on, one workflow per
contact runs them."""
