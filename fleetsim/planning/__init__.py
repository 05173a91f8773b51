"""The planning toolkit autonomy policies are built from.

Pure functions and small objects over shapely geometries and numpy arrays of
local metres (x east, y north); nothing here knows about the engine, simpy or
vehicles' state:

- coverage: :func:`boustrophedon` lawnmower sweeps of areas with holes,
  :func:`path_length`, :func:`min_width_angle_deg`, :func:`densify` (for
  terrain following);
- partition: :func:`partition_equal_area` into equal-area strips and
  :func:`assign_parts` of parts to vehicles (a part index per vehicle);
- routing: :class:`VisibilityGraph` and :func:`route_around` for shortest
  routes around no-fly zones;
- assignment: :func:`nearest` neighbours and :func:`assign_min_cost` matching
  with forbidden pairs.

Invalid arguments raise ``TypeError`` or ``ValueError`` with a message naming
the argument (and, for routing, the point and obstacle index).
"""

from fleetsim.planning.assignment import assign_min_cost, nearest
from fleetsim.planning.coverage import boustrophedon, densify, min_width_angle_deg, path_length
from fleetsim.planning.partition import assign_parts, partition_equal_area
from fleetsim.planning.routing import VisibilityGraph, route_around

__all__ = [
    "VisibilityGraph",
    "assign_min_cost",
    "assign_parts",
    "boustrophedon",
    "densify",
    "min_width_angle_deg",
    "nearest",
    "partition_equal_area",
    "path_length",
    "route_around",
]
