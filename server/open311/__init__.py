"""Open311 GeoReport v2: discovery, services, service requests (JSON and XML), api keys."""
