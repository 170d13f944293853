"""Open311 writes: POST requests (a form, with an api_key)."""
