"""Run the technician app on the desktop: ``groundcrew-mobile --server http://127.0.0.1:8000``."""

from __future__ import annotations

import argparse
import os


def parse_position(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("use LAT,LON, e.g. 39.2833,-76.5930") from None
    return lat, lon


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="groundcrew-mobile", description="Groundcrew technician app")
    parser.add_argument("--server", default="", help="Server URL, e.g. http://127.0.0.1:8000 (else the last one)")
    parser.add_argument("--data-dir", default=None, help="Where the app keeps its session, cache and outbox")
    parser.add_argument("--position", type=parse_position, default=None, help="Fixed position LAT,LON (desktop)")
    parser.add_argument("--simulate", action="store_true", help="Drive toward the next stop (desktop demo)")
    parser.add_argument("--size", default="450x800", help="Window size WxH (portrait phone by default)")
    args = parser.parse_args(argv)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    width, height = args.size.lower().split("x")
    Config.set("graphics", "width", width)
    Config.set("graphics", "height", height)
    from mobile_app.app import GroundcrewApp

    GroundcrewApp(server_url=args.server, data_dir=args.data_dir, position=args.position,
                  simulate=args.simulate).run()


if __name__ == "__main__":
    main()
