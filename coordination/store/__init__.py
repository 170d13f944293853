"""The log and what reads and writes it: event store, codecs, keys, tokens, triggers, connection."""
