"""Scenarios: the typed schema (:mod:`.model`), its declarative checks
(:mod:`.schema`) and YAML loading with line numbers and overrides (:mod:`.load`)."""

from fleetsim.scenario.load import (
    load_scenario,
    load_scenario_text,
    scenario_from_source,
    scenario_to_source,
)
from fleetsim.scenario.model import (
    SCHEMA_VERSION,
    DetectionSpec,
    MissionSpec,
    OutputSpec,
    PolicySpec,
    RunSpec,
    Scenario,
    SensorSpec,
    SiteSpec,
    TargetSpec,
    TerrainSpec,
    TimeWindow,
    VehicleGroupSpec,
    VehicleTypeSpec,
    ZoneSpec,
)

__all__ = [
    "SCHEMA_VERSION",
    "DetectionSpec",
    "MissionSpec",
    "OutputSpec",
    "PolicySpec",
    "RunSpec",
    "Scenario",
    "SensorSpec",
    "SiteSpec",
    "TargetSpec",
    "TerrainSpec",
    "TimeWindow",
    "VehicleGroupSpec",
    "VehicleTypeSpec",
    "ZoneSpec",
    "load_scenario",
    "load_scenario_text",
    "scenario_from_source",
    "scenario_to_source",
]
