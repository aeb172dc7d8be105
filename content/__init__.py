"""The content engine: slot declarations, validation of partner values, safe rendering,
template lint. Pure functions (no database, no clock) unless a module says otherwise."""
