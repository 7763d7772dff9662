"""The web console: the built single-page app (from web/) and the small map endpoints it needs."""
