"""Talking to print vendors: the adapter the workflow's activities use, callback signatures,
and a simulator that behaves like a vendor's API for `make up` and the tests."""
