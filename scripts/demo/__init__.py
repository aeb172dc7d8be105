"""The demo organisation `make up` seeds: brands, partners, people, templates, assets,
contacts and approval policies; idempotent by natural keys."""
