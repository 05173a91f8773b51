"""Real places: the scenario's frame on the Earth, geographic files in and out.

- :mod:`fleetsim.geo.frame` -- :class:`GeoFrame`, lon/lat <-> scenario metres;
- :mod:`fleetsim.geo.zones` -- zones from GeoJSON and EUROCAE ED-269 files;
- :mod:`fleetsim.geo.osm` -- road networks from OpenStreetMap XML (osmnx);
- :mod:`fleetsim.geo.export` -- a run as GeoJSON, CZML, KML, kepler.gl trips,
  ASTM F3548 operational intents and QGroundControl plans.
"""
