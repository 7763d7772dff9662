"""geodata: streets, travel times and places from OpenStreetMap — no web, no database.

Units: travel times in seconds (`travel_time_s`), distances in metres (`distance_m`),
coordinates as (lat, lon) degrees in every public call.
"""

from geodata.address_points import AddressPoint
from geodata.city import City, load_city, load_network
from geodata.config import DEFAULT_HIGHWAY_SPEEDS_KMH, NetworkConfig
from geodata.errors import (
    EmptyTextError,
    GeodataError,
    InvalidCoordinatesError,
    NetworkUnavailableError,
    NoDrivableRoadsError,
    NoRouteError,
    OsmFileError,
    OutsideServiceAreaError,
    TooFarFromRoadError,
)
from geodata.gazetteer import AddressPointsReport, Gazetteer
from geodata.geotag import Candidate, Geotagger
from geodata.matrix import MatrixCache, TravelMatrix, travel_time_matrix
from geodata.network import BuildReport, StreetNetwork, network_from_place
from geodata.normalize import normalize_street
from geodata.routes import route_geojson
from geodata.snapping import SnappedPoint

__all__ = [
    "DEFAULT_HIGHWAY_SPEEDS_KMH",
    "AddressPoint",
    "AddressPointsReport",
    "BuildReport",
    "Candidate",
    "City",
    "EmptyTextError",
    "Gazetteer",
    "GeodataError",
    "Geotagger",
    "InvalidCoordinatesError",
    "MatrixCache",
    "NetworkConfig",
    "NetworkUnavailableError",
    "NoDrivableRoadsError",
    "NoRouteError",
    "OsmFileError",
    "OutsideServiceAreaError",
    "SnappedPoint",
    "StreetNetwork",
    "TooFarFromRoadError",
    "TravelMatrix",
    "load_city",
    "load_network",
    "network_from_place",
    "normalize_street",
    "route_geojson",
    "travel_time_matrix",
]
