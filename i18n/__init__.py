"""The portal's languages and time zones: message catalogues (gettext, read with Babel),
the request's locale and zone, and locale-aware formats of dates, times and numbers."""
