"""Communications: when is a vehicle in radio contact with the ground?

A vehicle is *in link* while it is within the slant range of a ground station
(any site with ``radio_range_m``) and has terrain line of sight to that
station's antenna. For a straight leg at constant speed the slant distance
squared is a quadratic in time, so the range part is exact; line of sight is
sampled along the leg every ``los_step_m`` metres (at least every terrain grid
cell) and taken as constant between samples.

Airborne relays
---------------
A vehicle whose type has ``relay_range_m`` carries a relay. A vehicle X is also
in link at time t when some *other* relay vehicle R is airborne at t (on a
takeoff, move, hold, return or land leg), X is within R's relay range (slant)
with terrain line of sight between them, and R is itself *directly* in link at
t: within some station's slant range, with line of sight to its antenna.
Relaying is single hop: a relay reached only through another relay relays
nothing. Relays move, so the relayed part is sampled in time along each leg of
X (:func:`relay_link_intervals`): every ``los_step_m`` of flight (at least one
terrain cell), and at least every :data:`RELAY_MAX_GAP_S` seconds (hovers,
climbs). The sample grid of a leg starts at its ``t0`` and its step depends only
on the leg's speed, so a leg cut short keeps the samples it had. A sample stands
for the stretch up to the next one. Relay positions at a sample time are
interpolated from the relays' legs; a relay with no leg covering that time is
absent. Whether R is in direct link at t is R's own direct-link status (exact
range, line of sight sampled the same way along R's legs). :func:`link_intervals_relayed` is the union of the direct and the
relayed intervals; its direct part checks line of sight on that same time grid
(:func:`grid_link_intervals`), so that every sample of a leg, and the link
status it gives, stays the same when the leg is cut short later (the engine
evaluates legs as planned, the metrics as flown).

Everything here works on arrays of legs at once and is used both by the engine
(to raise link-lost/restored events) and by the metrics (to score time out of
link from the recorded legs), so the two agree by construction.

Many stations
-------------
The cost grows with legs x stations *near them*, not with all stations: a leg can
be within a station's slant range only if its midpoint is within that range plus
half the leg's horizontal length of the station, horizontally, so k-d trees of the
stations and of the legs' midpoints give each leg its candidates (the exact test is
the range quadratic), and the (leg, station) pairs are processed in vectorised
batches. Most legs need one station: :func:`link_intervals` first tries every leg
with its nearest station (looked up in a grid over the stations that lists, per
cell, the few stations nearest some point of it), and settles those in its range
throughout and in sight all along (surely, from the horizon's blocks, or from the
line of sight samples), over large chunks of legs; the others have all their
stations in range evaluated at once and cut after the first that covers them. Each
station's horizon covers its range only and is built on first use, once per terrain
(the engine and the metrics of a run share them). The others' legs are taken in
chunks of ``links._LEG_CHUNK`` (longer with fewer than ``links._CHUNK_STATIONS``
stations), so memory stays bounded on long runs. The answers are those of checking
every station against every leg, bit for bit (``tests/comms/test_links_scale.py``).

Modules: :mod:`~fleetsim.comms.stations` (stations, horizons, range quadratic),
:mod:`~fleetsim.comms.links` (direct links), :mod:`~fleetsim.comms.relays`
(airborne relays); everything public is importable from ``fleetsim.comms``.
"""

from fleetsim.comms.links import (
    RELAY_MAX_GAP_S,
    grid_link_intervals,
    link_intervals,
    out_of_link,
    sample_start,
    sample_step_s,
)
from fleetsim.comms.relays import (
    RelayLegs,
    link_intervals_relayed,
    relay_legs,
    relay_link_intervals,
)
from fleetsim.comms.stations import (
    Station,
    is_flat,
    range_intervals,
    station_in_sight,
    stations_of,
)

__all__ = [
    "RELAY_MAX_GAP_S", "RelayLegs", "Station", "grid_link_intervals", "is_flat",
    "link_intervals", "link_intervals_relayed", "out_of_link", "range_intervals",
    "relay_legs", "relay_link_intervals", "sample_start", "sample_step_s",
    "station_in_sight", "stations_of",
]
