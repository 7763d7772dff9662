"""mobile_app package."""
