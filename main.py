"""Android entry point for buildozer/python-for-android: starts the technician app (mobile_app)."""

from mobile_app.__main__ import main

if __name__ == "__main__":
    main()
