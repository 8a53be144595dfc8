"""Peer libraries used as independent oracles in tests; each runs in its own venv when it must."""
