"""Shouwang gateway: one origin for the web app and the services\x27 APIs; sign-in and sessions."""
