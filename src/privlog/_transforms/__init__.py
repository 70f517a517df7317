"""Transforms that know nothing of frameworks, keys or exporters: addresses, text (paths,
referrers, languages, queries), user agents, locations."""
