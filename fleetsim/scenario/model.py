"""Typed, validated scenario objects (schema version 1).

These frozen dataclasses are what the rest of fleetsim sees of a scenario; the
loader (:mod:`fleetsim.scenario.load`) builds them from YAML and checks every
field. Coordinates are local ENU metres (x east, y north) from the scenario
origin; altitudes are metres above the terrain datum (AMSL) unless the name
says ``agl``.

What each field means, its unit, bounds and default are declared once, in
:mod:`fleetsim.scenario.schema` (``fleetsim schema`` prints them). A field has
the name of its scenario key unless the key's record maps it (``Record.attrs``),
and its default here is the declared one: the test suite checks both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

Coord = tuple[float, float]
Ring = tuple[Coord, ...]

#: Bank-angle limit (degrees) of a fixed wing whose type gives none: a small
#: unmanned aircraft's usual limit for coordinated turns and loiters.
DEFAULT_BANK_ANGLE_DEG = 30.0


@dataclass(frozen=True)
class RunSpec:
    duration_s: float
    seed: int = 0
    monitor_window_s: float = 10.0


@dataclass(frozen=True)
class TerrainSpec:
    source: str = "flat"
    size_m: Coord = (10_000.0, 10_000.0)
    spacing_m: float = 50.0
    origin_m: Coord = (0.0, 0.0)
    base_elevation_m: float = 0.0
    relief_m: float = 400.0
    ridges: int = 6
    path: str | None = None
    sea_level_m: float | None = None


@dataclass(frozen=True)
class OriginSpec:
    """The scenario's origin on the Earth (WGS 84 degrees): local (0, 0)."""

    lat: float
    lon: float


@dataclass(frozen=True)
class TimeWindow:
    start_s: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class ZoneSpec:
    id: str
    kind: str
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

    source: str = "grid"
    path: str | None = None
    extent: tuple[float, float, float, float] | None = None
    spacing_m: float = 500.0
    speed_limit_mps: float = 13.9
    blocked: int = 0
    seed: int | None = None
    closures: tuple[ClosureSpec, ...] = ()
    consolidate_m: float = 10.0


@dataclass(frozen=True)
class WaterSpec:
    """The navigation graph sea vehicles move on: a lattice over water, or waterways."""

    source: str = "lattice"
    path: str | None = None
    spacing_m: float = 200.0
    polygon: Ring | None = None
    speed_limit_mps: float | None = None


@dataclass(frozen=True)
class WindChange:
    """From ``t_s`` on, the wind is ``speed_mps`` from ``from_deg``."""

    t_s: float
    speed_mps: float
    from_deg: float


@dataclass(frozen=True)
class WindGridSpec:
    """A gridded wind field: ``path`` (relative to the scenario file) holds a float
    array of shape (ny, nx, 2) or (T, ny, nx, 2): the wind's east and north components
    (m/s) at the profile's reference height. ``field[k, j, i]`` applies at x = origin_x +
    i * spacing, y = origin_y + j * spacing (row 0 is the south edge) from time
    ``k * step_s`` on (the last slice to the end)."""

    path: str
    spacing_m: float
    origin_m: Coord = (0.0, 0.0)
    step_s: float = 3600.0


@dataclass(frozen=True)
class WindSpec:
    """A wind over the whole world (air vehicles fly the wind triangle in it).

    Meteorological convention: ``from_deg`` is the direction it blows *from*,
    degrees clockwise from north (+y); 270 is a west wind, blowing towards +x.
    """

    #: Speed (m/s) at ``ref_height_m`` above ground (0 with a ``grid``).
    speed_mps: float = 0.0
    #: Where it blows from: degrees clockwise from north.
    from_deg: float = 0.0
    #: Piecewise-constant changes in time, by increasing ``t_s``.
    changes: tuple[WindChange, ...] = ()
    #: Height above ground (m) the speeds are given at (power-law profile).
    ref_height_m: float = 10.0
    #: Power-law exponent: speed at height h is speed x (h / ref_height_m) ** exponent
    #: (0: the same at every height; about 1/7 over open land, 0.11 over the sea).
    exponent: float = 0.0
    #: A gridded field instead of the uniform wind; None: uniform.
    grid: WindGridSpec | None = None


@dataclass(frozen=True)
class SiteSpec:
    id: str
    kind: str
    position: Coord
    pads: int = 1
    stock: int | None = None
    loading_bays: int = 1
    loading_time_s: float = 60.0
    swap_stations: int = 0
    swap_time_s: float = 120.0
    radio_range_m: float | None = None
    antenna_height_m: float = 10.0
    sensor_radius_m: float | None = None
    false_alarms_per_hour: float = 0.0


@dataclass(frozen=True)
class DetectionSpec:
    model: str = "definite_range"
    sweep_width_m: float | None = None


@dataclass(frozen=True)
class SensorSpec:
    footprint_radius_m: float
    camera_fov_deg: float | None = None
    detection: DetectionSpec = DetectionSpec()


@dataclass(frozen=True)
class VehicleTypeSpec:
    id: str
    kind: str
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
    terrain_clearance_m: float = 30.0
    relay_range_m: float | None = None
    payload_kg: float = 0.0
    energy: str = "battery"
    carrier: str | None = None
    carrier_slots: int = 0
    airframe: str = "small_quadrotor"
    airframe_params: dict[str, float] = field(default_factory=dict)
    turn_penalty_s_per_rad: float = 0.0
    leg_overhead_s: float = 0.0
    climb_energy_wh_per_m: float = 0.0
    #: Fixed wing only: the bank-angle limit (degrees) of its turns and loiter orbits
    #: (radius v**2 / (g tan(bank))). None: :data:`DEFAULT_BANK_ANGLE_DEG` for a
    #: fixed wing (see :attr:`bank_deg`).
    bank_angle_deg: float | None = None

    @property
    def bank_deg(self) -> float | None:
        """The bank-angle limit the vehicle flies with: ``bank_angle_deg``, or
        :data:`DEFAULT_BANK_ANGLE_DEG` for a fixed wing without one; None for other
        kinds (they hover and turn on the spot)."""
        if self.kind != "fixed_wing":
            return None
        return DEFAULT_BANK_ANGLE_DEG if self.bank_angle_deg is None else self.bank_angle_deg


@dataclass(frozen=True)
class VehicleGroupSpec:
    type: str
    base: str
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
class DatumSpec:
    """A search's datum: the last known position of what is sought at time 0 and its
    uncertainty, a normal of standard deviation ``sigma_m`` per axis. It drifts with
    the mission's drift (without the random part)."""

    position: Coord
    sigma_m: float = 500.0


@dataclass(frozen=True)
class MissionSpec:
    id: str
    kind: str
    exterior: Ring
    holes: tuple[Ring, ...] = ()
    targets: tuple[TargetSpec, ...] = ()
    random_targets: int = 0
    #: Drift of its targets (those without their own velocity); None: they stay put.
    drift: DriftSpec | None = None
    #: Datum of a search (random targets drawn around it; each search leg's POD is
    #: recorded against it); None: none.
    datum: DatumSpec | None = None


@dataclass(frozen=True)
class OrderSpec:
    id: str
    origin: str
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
    destinations: tuple[str, ...] = ()
    area: Ring | None = None
    weight_kg: tuple[float, float] = (1.0, 1.0)
    window_s: float | None = None
    priority: int = 1
    start_s: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class LogisticsSpec:
    orders: tuple[OrderSpec, ...] = ()
    demand: tuple[DemandSpec, ...] = ()
    service_time_s: float = 60.0
    transfer_time_s: float = 30.0


@dataclass(frozen=True)
class MinimaSpec:
    """Separation minima of one domain: a cylinder around each vehicle."""

    horizontal_m: float = 50.0
    vertical_m: float = 15.0


@dataclass(frozen=True)
class StrategicSpec:
    """Strategic deconfliction: a vehicle's 4D intent is checked against the others'
    before it takes off; a conflicting one moves up a layer or waits."""

    layer_spacing_m: float = 30.0
    layers: int = 2
    delay_step_s: float = 30.0
    max_delay_s: float = 1800.0


#: Least checking window of separation without look-ahead when ``window_s`` is not set
#: (s): see :meth:`SeparationSpec.checking_window_s`.
LOSS_ONLY_WINDOW_S = 60.0


@dataclass(frozen=True)
class SeparationSpec:
    minima: dict[str, MinimaSpec] = field(default_factory=lambda: {"air": MinimaSpec()})
    lookahead_s: float = 60.0
    window_s: float | None = None
    strategic: StrategicSpec | None = None
    layering: str = "none"
    layer_spacing_m: float = 30.0
    terminal_radius_m: float = 150.0
    tactical: str = "none"

    def checking_window_s(self, monitor_window_s: float, duration_s: float) -> float:
        """How often the legs flown are checked (s): ``window_s`` if set, else the run's
        monitor window — or, without look-ahead, at least :data:`LOSS_ONLY_WINDOW_S`
        when the run is longer. Losses alone do not depend on the window (the pieces of
        a loss in successive windows are merged into one, with the same start, end and
        least distance up to rounding in the last bits); the window only sets how often,
        and over how many legs at a time, the check runs: a leg is clipped and paired
        once per window it spans, so a 90-s leg costs ten checks in windows of 10 s and
        two or three in windows of 60 s. Conflicts look ahead from each window's end,
        so with a look-ahead the window is also how often they are predicted."""
        if self.window_s:
            return float(self.window_s)
        window = float(monitor_window_s)
        if self.lookahead_s == 0 and LOSS_ONLY_WINDOW_S < duration_s:
            return max(window, LOSS_ONLY_WINDOW_S)
        return window


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
    service: Any = None
    priority: int = 2
    timeout_s: float | None = None
    veto_window_s: float = 60.0
    approve_probability: float = 1.0
    two_person: bool = False


@dataclass(frozen=True)
class ShiftSpec:
    start_s: float
    end_s: float
    count: int


@dataclass(frozen=True)
class ReviewSpec:
    """Detections (and false alarms) become review work for the operators."""

    service: Any = None
    priority: int = 1
    false_alarms_per_vehicle_hour: float = 0.0
    timeout_s: float | None = None


@dataclass(frozen=True)
class StopSpec:
    """A stop command: at ``time_s`` an operator orders vehicles to a safe state."""

    time_s: float
    vehicles: tuple[int, ...] | None = None
    safe_state: str = "return"


@dataclass(frozen=True)
class OversightSpec:
    operators: int = 1
    shifts: tuple[ShiftSpec, ...] = ()
    span_of_control: int | None = None
    rules: dict[str, RuleSpec] = field(default_factory=dict)
    detection_review: ReviewSpec | None = None
    stops: tuple[StopSpec, ...] = ()
    approval_needs_link: bool = True

    def rule_for(self, action_class: str) -> RuleSpec:
        return self.rules.get(action_class, _AUTO)


_AUTO = RuleSpec()


@dataclass(frozen=True)
class OutputSpec:
    metrics_cell_m: float = 50.0
    replay: bool = True
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
    oversight: OversightSpec | None = None
    roads: RoadsSpec | None = None
    water: WaterSpec | None = None
    logistics: LogisticsSpec | None = None
    separation: SeparationSpec | None = None
    #: Wind; None: still air.
    wind: WindSpec | None = None
    #: Where local (0, 0) is on the Earth; None: not on the map (unless ``crs``).
    origin: OriginSpec | None = None
    #: The projected CRS the scenario's metres are in; None: not on the map (unless ``origin``).
    crs: str | None = None
    description: str = ""
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
