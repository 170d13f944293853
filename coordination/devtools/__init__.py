"""Tools for a developer's machine: the embedded server, the dev runner, the seeded demo day."""
