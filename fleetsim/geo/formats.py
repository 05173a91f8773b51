"""The export formats and defaults, without imports (the command line reads them)."""

FORMATS = ("geojson", "czml", "kml", "kepler", "intents", "qgc")
EXTENSIONS = {"geojson": "geojson", "czml": "czml", "kml": "kml", "kepler": "json",
              "intents": "json", "qgc": "plan"}
#: The date-time run second 0 stands for when none is given.
DEFAULT_START = "2026-01-01T00:00:00Z"
