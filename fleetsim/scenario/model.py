"""Typed, validated scenario objects (schema version 1).

These frozen dataclasses are what the rest of fleetsim sees of a scenario; the
loader (:mod:`fleetsim.scenario.load`) builds them from YAML and checks every
field. Coordinates are local ENU metres (x east, y north) from the scenario
origin; altitudes are metres above the terrain datum (AMSL) unless the name
says ``agl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

Coord = tuple[float, float]
Ring = tuple[Coord, ...]


@dataclass(frozen=True)
class RunSpec:
    duration_s: float
    seed: int = 0
    #: Width of the batching window for in-leg events (detections, zone
    #: crossings, terrain checks). Recorded times stay exact; a policy may
    #: learn of such an event up to this late.
    monitor_window_s: float = 10.0


@dataclass(frozen=True)
class TerrainSpec:
    #: ``flat``, ``procedural``, ``npy`` or ``geotiff``.
    source: str = "flat"
    #: Extent (width, height) in metres, for ``flat`` and ``procedural``.
    size_m: Coord = (10_000.0, 10_000.0)
    #: Grid spacing in metres (``flat``, ``procedural``, ``npy``; a GeoTIFF
    #: carries its own).
    spacing_m: float = 50.0
    #: Local ENU position of the grid's south-west corner.
    origin_m: Coord = (0.0, 0.0)
    #: Elevation of ``flat`` terrain, or the lowest level of ``procedural``.
    base_elevation_m: float = 0.0
    #: Peak-to-valley relief of ``procedural`` terrain.
    relief_m: float = 400.0
    #: Number of ridges of ``procedural`` terrain.
    ridges: int = 6
    #: File of ``npy`` / ``geotiff`` terrain, resolved against the scenario's folder.
    path: str | None = None
    #: Sea level: ground below it is water, and vehicles fly (and clear the ground)
    #: above the water's surface, not the seabed. None: no sea.
    sea_level_m: float | None = None


@dataclass(frozen=True)
class TimeWindow:
    start_s: float = 0.0
    end_s: float | None = None  # None: until the end of the run


@dataclass(frozen=True)
class ZoneSpec:
    id: str
    kind: str  # "no_fly" | "restricted"
    exterior: Ring
    holes: tuple[Ring, ...] = ()
    floor_amsl_m: float = float("-inf")
    ceiling_amsl_m: float = float("inf")
    active: TimeWindow = TimeWindow()


@dataclass(frozen=True)
class ClosureSpec:
    """A road closes at ``time_s``: the road segment nearest to ``near``."""

    time_s: float
    near: Coord


@dataclass(frozen=True)
class RoadsSpec:
    """The road network ground vehicles move on."""

    #: ``grid`` or ``planar`` (generated), or ``geojson`` (LineStrings from ``path``).
    source: str = "grid"
    #: File of ``geojson`` roads, resolved against the scenario's folder.
    path: str | None = None
    #: Area a generated network covers (x0, y0, x1, y1); None: the terrain's extent.
    extent: tuple[float, float, float, float] | None = None
    #: Distance between neighbouring junctions of a generated network.
    spacing_m: float = 500.0
    #: Speed limit of every road (a GeoJSON feature's ``speed_limit_mps`` overrides it).
    speed_limit_mps: float = 13.9
    #: Roads of a generated network that are missing (blocked) from the start.
    blocked: int = 0
    #: Seed of a generated network (None: drawn from the run's seed, so the map
    #: changes with it; give one to keep the map fixed across replications).
    seed: int | None = None
    closures: tuple[ClosureSpec, ...] = ()


@dataclass(frozen=True)
class WaterSpec:
    """The navigation graph sea vehicles move on: a lattice over water."""

    spacing_m: float = 200.0
    #: Water as a polygon; None: the terrain's cells below ``sea_level_m``.
    polygon: Ring | None = None


@dataclass(frozen=True)
class WindChange:
    """From ``t_s`` on, the wind is ``speed_mps`` from ``from_deg``."""

    t_s: float
    speed_mps: float
    from_deg: float


@dataclass(frozen=True)
class WindSpec:
    """A wind over the whole world (air vehicles fly the wind triangle in it).

    Meteorological convention: ``from_deg`` is the direction it blows *from*,
    degrees clockwise from north (+y); 270 is a west wind, blowing towards +x.
    """

    #: Speed (m/s) at ``ref_height_m`` above ground.
    speed_mps: float
    #: Where it blows from: degrees clockwise from north.
    from_deg: float
    #: Piecewise-constant changes in time, by increasing ``t_s``.
    changes: tuple[WindChange, ...] = ()
    #: Height above ground (m) the speeds are given at (power-law profile).
    ref_height_m: float = 10.0
    #: Power-law exponent: speed at height h is speed x (h / ref_height_m) ** exponent
    #: (0: the same at every height; about 1/7 over open land, 0.11 over the sea).
    exponent: float = 0.0


@dataclass(frozen=True)
class SiteSpec:
    id: str
    #: "base" | "depot" | "ground_station" | "customer" | "launch_point"
    kind: str
    position: Coord
    pads: int = 1
    #: Depots: items in stock (each order takes one); None: unlimited.
    stock: int | None = None
    #: Depots: loading bays (orders load one vehicle at a time per bay).
    loading_bays: int = 1
    #: Depots: time to load one order.
    loading_time_s: float = 60.0
    #: Depots: battery-swap stations (0: vehicles recharge on the pads instead).
    swap_stations: int = 0
    #: Depots: time for one battery swap.
    swap_time_s: float = 120.0
    #: Radio range (slant distance) of the site's ground station; None: no radio.
    radio_range_m: float | None = None
    #: Height of the station's antenna above the terrain.
    antenna_height_m: float = 10.0
    #: A fixed sensor at the site (a mast or buoy): its footprint radius; None: none.
    sensor_radius_m: float | None = None
    #: False alarms the fixed sensor raises per hour (become review work).
    false_alarms_per_hour: float = 0.0


@dataclass(frozen=True)
class DetectionSpec:
    #: ``definite_range`` (p = 1 within the footprint radius), ``inverse_cube``
    #: or ``exponential`` lateral-range curves.
    model: str = "definite_range"
    #: Sweep width W = integral of the lateral-range curve (metres). For
    #: ``definite_range`` it is 2 x footprint radius and may be omitted.
    sweep_width_m: float | None = None


@dataclass(frozen=True)
class SensorSpec:
    #: Radius of the sensor's ground footprint (metres). With a camera it is
    #: derived: altitude_agl x tan(fov / 2).
    footprint_radius_m: float
    camera_fov_deg: float | None = None
    detection: DetectionSpec = DetectionSpec()


@dataclass(frozen=True)
class VehicleTypeSpec:
    id: str
    kind: str  # "multirotor" | "fixed_wing"
    cruise_speed_mps: float
    climb_rate_mps: float
    battery_wh: float
    hover_power_w: float
    cruise_power_w: float
    recharge_time_s: float
    sensor: SensorSpec
    domain: str = "air"
    cruise_altitude_agl_m: float = 100.0
    reserve_fraction: float = 0.2
    #: Minimum height above terrain along a leg; lower is a terrain violation.
    terrain_clearance_m: float = 30.0
    #: The vehicle carries a radio relay of this range (slant metres); None: no relay.
    relay_range_m: float | None = None
    #: Payload capacity for orders (kg); 0: carries none.
    payload_kg: float = 0.0
    #: ``battery`` (recharged on pads or swapped) or ``fuel`` (refuelled on pads).
    energy: str = "battery"
    #: Vehicles of this type ride on vehicles of that type (the mothership pattern),
    #: shared out in turn; None: they start at their base.
    carrier: str | None = None
    #: Vehicles of this type carry at most this many others.
    carrier_slots: int = 0
    #: The rigid-body model ``fleetsim fidelity`` flies this type with
    #: (``small_quadrotor`` or ``heavy_hexacopter``: fleetsim.fidelity.MultirotorParams).
    airframe: str = "small_quadrotor"
    #: Overrides of the airframe's parameters (MultirotorParams fields: mass_kg,
    #: arm_length_m, thrust_coeff, torque_coeff, max_rotor_speed_rad_s, drag_coeff,
    #: rotor_disc_area_m2, power_efficiency).
    airframe_params: dict[str, float] = field(default_factory=dict)
    #: Corrections the fast model applies (fitted by ``fleetsim fidelity --calibrate``):
    #: seconds per radian of turn at a route's waypoints, seconds per route flown from
    #: rest (accelerating and braking), and watt-hours per metre climbed.
    turn_penalty_s_per_rad: float = 0.0
    leg_overhead_s: float = 0.0
    climb_energy_wh_per_m: float = 0.0
    #: Fixed wing only: the bank-angle limit (degrees) of its turns and loiter orbits
    #: (radius v**2 / (g tan(bank))). None: fixed-wing flight is not modelled (the
    #: engine's model before it: it hovers where it would loiter and turns on the spot).
    bank_angle_deg: float | None = None


@dataclass(frozen=True)
class VehicleGroupSpec:
    type: str  # a VehicleTypeSpec id
    base: str  # a SiteSpec id of kind base
    count: int


@dataclass(frozen=True)
class TargetSpec:
    id: str
    position: Coord
    #: Constant velocity (m/s) from ``position`` at time 0; None: it does not move (or
    #: drifts with its mission's ``drift``).
    velocity_mps: Coord | None = None


@dataclass(frozen=True)
class DriftSpec:
    """How a mission's targets drift: ``current_mps + leeway * wind(0) + N(0, random_mps)``
    per component (the wind at its reference height at time 0; the random part drawn
    once per target from stream ``drift/<mission id>``), constant over the run."""

    current_mps: Coord = (0.0, 0.0)
    leeway: float = 0.0
    random_mps: float = 0.0


@dataclass(frozen=True)
class MissionSpec:
    id: str
    #: ``coverage`` (cover once), ``persistent`` (keep idleness low) or
    #: ``search`` (find targets).
    kind: str
    exterior: Ring
    holes: tuple[Ring, ...] = ()
    #: Explicit targets (search missions).
    targets: tuple[TargetSpec, ...] = ()
    #: Number of targets to place uniformly at random in the area (stream
    #: ``targets/<mission id>``), in addition to the explicit ones.
    random_targets: int = 0
    #: Drift of its targets (those without their own velocity); None: they stay put.
    drift: DriftSpec | None = None


@dataclass(frozen=True)
class OrderSpec:
    id: str
    origin: str  # a depot site id
    destination: Coord
    weight_kg: float
    created_s: float = 0.0
    priority: int = 1
    earliest_s: float = 0.0
    latest_s: float | None = None
    #: The destination's site id, if it was given as one.
    destination_site: str | None = None


@dataclass(frozen=True)
class DemandSpec:
    """Orders arriving as a Poisson process (stream ``demand/<index>``)."""

    origin: str
    rate_per_hour: float
    #: Destinations drawn uniformly from these sites ...
    destinations: tuple[str, ...] = ()
    #: ... or uniformly inside this area (exterior ring).
    area: Ring | None = None
    #: Weight: fixed, or uniform between (low, high).
    weight_kg: tuple[float, float] = (1.0, 1.0)
    #: Each order's latest delivery time is its creation time plus this; None: none.
    window_s: float | None = None
    priority: int = 1
    start_s: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class LogisticsSpec:
    orders: tuple[OrderSpec, ...] = ()
    demand: tuple[DemandSpec, ...] = ()
    #: Handing an order over at its destination.
    service_time_s: float = 60.0
    #: Moving an order from a carrier onto a vehicle it carries.
    transfer_time_s: float = 30.0


@dataclass(frozen=True)
class MinimaSpec:
    """Separation minima of one domain: a cylinder around each vehicle."""

    horizontal_m: float = 50.0
    #: Half-height: vehicles closer than this vertically (and than horizontal_m
    #: horizontally) have lost separation.
    vertical_m: float = 15.0


@dataclass(frozen=True)
class StrategicSpec:
    """Strategic deconfliction: a vehicle's 4D intent is checked against the others'
    before it takes off; a conflicting one moves up a layer or waits."""

    layer_spacing_m: float = 30.0
    #: Altitude layers above the cruise altitude to try (0: delays only).
    layers: int = 2
    delay_step_s: float = 30.0
    max_delay_s: float = 1800.0


@dataclass(frozen=True)
class SeparationSpec:
    #: Minima per domain; domains not listed are not checked (ground vehicles keep
    #: to their roads). The default: small drones, 50 m and 15 m.
    minima: dict[str, MinimaSpec] = field(default_factory=lambda: {"air": MinimaSpec()})
    #: Conflicts: loss of separation predicted within this horizon.
    lookahead_s: float = 60.0
    #: Monitoring window (None: run.monitor_window_s).
    window_s: float | None = None
    strategic: StrategicSpec | None = None
    #: ``none`` or ``heading``: cruise altitude raised by layer_spacing_m per
    #: quadrant of heading (north-east 0, south-east 1, south-west 2, north-west 3).
    layering: str = "none"
    layer_spacing_m: float = 30.0
    #: Around each site (base, depot, ...) take-offs and landings are kept apart by the
    #: pads' layout: losses of separation that begin within this distance of a site
    #: are not counted (0: counted everywhere).
    terminal_radius_m: float = 150.0
    #: ``none`` (policies react to ``conflict`` requests) or ``hold``: the lower-priority
    #: vehicle of a conflict (the higher index) stops, moves out of the other's way
    #: vertically if it must, waits for it to pass and resumes its route.
    tactical: str = "none"


@dataclass(frozen=True)
class PolicySpec:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


#: Authorization rules (DESIGN.md section 4).
AUTH_RULES = ("auto", "notify", "veto", "approve", "forbidden")

#: Action classes the engine knows. ``takeoff``: leaving the ground; ``transit``,
#: ``survey``, ``hold``, ``return``: the actions of those names (a policy may tag a
#: GoTo/Route with another class, e.g. ``retask``); ``pickup`` / ``deliver``: the
#: logistics actions of those names; ``enter_restricted``: a leg that
#: enters a restricted zone; ``leave_mission_area``: a leg that leaves the mission
#: area; ``continue_lost_link``: flying on (rather than holding or returning) while
#: out of link; ``classify_detection``: reviewing a detection or false alarm;
#: ``emergency_landing``: landing where the vehicle is; ``stop``: a stop command.
ACTION_CLASSES = ("takeoff", "transit", "survey", "hold", "return", "retask", "pickup",
                  "deliver",
                  "enter_restricted", "leave_mission_area", "continue_lost_link",
                  "classify_detection", "emergency_landing", "stop")


@dataclass(frozen=True)
class RuleSpec:
    """How one action class is authorized, and what the operator's work costs."""

    rule: str = "auto"
    #: Operator service time for this class's work item (a fleetsim.oversight
    #: Distribution; default exponential with mean 30 s).
    service: Any = None
    #: Queue priority of the work item (lower is more urgent).
    priority: int = 2
    #: ``approve``: give up (and apply the policy's fallback) after waiting this long.
    timeout_s: float | None = None
    #: ``veto``: the vehicle acts after this long unless an operator objects first.
    veto_window_s: float = 60.0
    #: ``approve``: probability an approval is granted; ``veto``: that it is not vetoed.
    approve_probability: float = 1.0
    #: Needs two operators at once.
    two_person: bool = False


@dataclass(frozen=True)
class ShiftSpec:
    start_s: float
    end_s: float
    count: int


@dataclass(frozen=True)
class ReviewSpec:
    """Detections (and false alarms) become review work for the operators."""

    service: Any = None  # default exponential, mean 20 s
    priority: int = 1
    #: False alarms raised per airborne vehicle-hour by the vehicles' sensors.
    false_alarms_per_vehicle_hour: float = 0.0
    timeout_s: float | None = None


@dataclass(frozen=True)
class StopSpec:
    """A stop command: at ``time_s`` an operator orders vehicles to a safe state."""

    time_s: float
    #: Vehicle indexes, or None for the whole fleet.
    vehicles: tuple[int, ...] | None = None
    #: ``return`` (fly home and land) or ``land`` (land where it is).
    safe_state: str = "return"


@dataclass(frozen=True)
class OversightSpec:
    operators: int = 1
    shifts: tuple[ShiftSpec, ...] = ()
    span_of_control: int | None = None
    #: Rule per action class; classes not listed are ``auto``.
    rules: dict[str, RuleSpec] = field(default_factory=dict)
    detection_review: ReviewSpec | None = None
    stops: tuple[StopSpec, ...] = ()
    #: An approval (or veto review) can only be asked for over a working link.
    approval_needs_link: bool = True

    def rule_for(self, action_class: str) -> RuleSpec:
        return self.rules.get(action_class, _AUTO)


_AUTO = RuleSpec()


@dataclass(frozen=True)
class OutputSpec:
    #: Side of the square raster cells used for coverage and idleness metrics.
    metrics_cell_m: float = 50.0
    replay: bool = True
    #: Interval between the rows of ``timeseries.parquet`` (s).
    timeseries_step_s: float = 60.0


@dataclass(frozen=True)
class Scenario:
    name: str
    run: RunSpec
    terrain: TerrainSpec
    zones: tuple[ZoneSpec, ...]
    sites: tuple[SiteSpec, ...]
    vehicle_types: tuple[VehicleTypeSpec, ...]
    vehicles: tuple[VehicleGroupSpec, ...]
    missions: tuple[MissionSpec, ...]
    policy: PolicySpec
    outputs: OutputSpec = OutputSpec()
    #: Human oversight; None: every action is autonomous and no operators are modelled.
    oversight: OversightSpec | None = None
    roads: RoadsSpec | None = None
    water: WaterSpec | None = None
    logistics: LogisticsSpec | None = None
    #: Separation monitoring and deconfliction; None: not modelled.
    separation: SeparationSpec | None = None
    #: Wind; None: still air.
    wind: WindSpec | None = None
    description: str = ""
    #: Folder of the scenario file (for relative paths); not part of the schema.
    base_dir: str = "."
    #: The validated scenario as plain data (what the manifest stores).
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: Where each YAML path came from: ``{"policy.params.spacing_m": ("x.yaml", 31)}``.
    locations: dict[str, tuple[str, int]] = field(default_factory=dict, compare=False, repr=False)

    def locate(self, path: str) -> tuple[str | None, int | None]:
        """File and line of YAML path ``path`` (or of its nearest recorded parent)."""
        probe = path
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return (None, None)
