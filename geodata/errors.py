"""Domain errors of geodata: each message says what went wrong and what to do about it."""

from __future__ import annotations


class GeodataError(Exception):
    """Base class for every error raised by geodata."""


class OsmFileError(GeodataError):
    """The OSM file is missing, unreadable, empty or not OSM data."""


class NoDrivableRoadsError(GeodataError):
    """The OSM data holds no way a car may drive on."""


class NetworkUnavailableError(GeodataError):
    """Building from a place name needs the internet, and it could not be reached."""


class InvalidCoordinatesError(GeodataError, ValueError):
    """Latitude/longitude are not numbers in range (lat -90..90, lon -180..180)."""


class OutsideServiceAreaError(GeodataError):
    """The point lies outside the area covered by the street network."""


class TooFarFromRoadError(GeodataError):
    """The point is farther from any drivable road than the configured snap distance."""


class NoRouteError(GeodataError):
    """No drivable route connects the two points."""


class EmptyTextError(GeodataError, ValueError):
    """Geotagging was asked to locate an empty or blank text."""
