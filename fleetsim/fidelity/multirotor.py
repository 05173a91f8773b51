"""Multirotor flight through rigid-body physics: can a real quadrotor fly the plan?

fleetsim's fast model moves vehicles along straight legs at constant speed. This
module flies the same legs with a rigid-body multirotor in pybullet so that the
fast model's leg times and energy can be checked (and later calibrated):

- :class:`MultirotorParams` -- the airframe (mass, inertia, rotors, drag, power);
- :class:`Controller` -- limits and gains of a cascaded controller:
  position error -> desired velocity (limited) -> desired acceleration (limited,
  plus gravity and a drag feed-forward) -> thrust vector -> desired attitude
  (roll/pitch from the thrust direction, yaw held) and collective thrust ->
  attitude PD -> body torques -> rotor thrusts via the mixer (rotor speeds
  clipped to [0, max]) -> per-rotor forces and the rotors' yaw torque in pybullet;
- :class:`FlightSim` -- one pybullet world (DIRECT mode, optional terrain
  heightfield, mean wind plus seeded Gauss-Markov gusts); :meth:`FlightSim.fly`
  flies one vehicle through waypoints and returns a :class:`Track`,
  :meth:`FlightSim.fly_many` flies several vehicles in the same world together.

Guidance: the controller aims at the current waypoint and tracks the straight
line from the previous waypoint (cross-track correction). Along the line it
commands the speed ``min(v_max, sqrt(v_corner^2 + 2 a d))`` (``d`` the distance
to go, ``a`` = ``max_accel_mps2``) so that it brakes at ``a`` to the corner speed;
for the last waypoint also ``<= pos_gain * d`` so it settles without overshoot.
The corner speed is the speed from which the velocity across the next leg,
``v sin(turn)``, can be cancelled at ``a`` within ``capture_m``:
``sqrt(2 a capture_m) / sin(turn)`` (capped at ``v_max``; turns of 90 degrees
or more use ``sin = 1``). A waypoint is reached within ``capture_m``.

pybullet is imported when a :class:`FlightSim` is created, never by
``import fleetsim`` or by importing this module.

Not modelled: rotor spin-up dynamics (rotor speeds change instantly), blade
flapping and induced drag, ground effect, take-off and landing (flights start
hovering at ``start_xyz``, which must be clear of the terrain), collisions
between vehicles (vehicles only collide with the terrain).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fleetsim.rng import make_rng

__all__ = [
    "Contact",
    "Controller",
    "FlightSim",
    "MultirotorParams",
    "Track",
    "trapezoid_time_s",
]

GRAVITY_MPS2 = 9.81
AIR_DENSITY_KG_M3 = 1.225
#: Most rotors of any airframe here (the hexacopter); quadrotors pad with zeros.
_MAX_ROTORS = 6
#: Divergence limits.
_MAX_TILT_DEG = 80.0
_MAX_PATH_DEVIATION_M = 50.0
#: Gust blocks drawn at once per vehicle (the draws do not depend on the block size).
_GUST_BLOCK = 1024


# --------------------------------------------------------------------------- airframe


@dataclass(frozen=True)
class MultirotorParams:
    """A multirotor airframe.

    Rotors sit at ``arm_length_m`` from the centre of mass in the body x-y
    plane, evenly spaced, alternating spin (quadrotor in "X" layout, rotors at
    45, 135, 225, 315 degrees; hexacopter at 0, 60, ..., 300 degrees). A rotor
    turning at ``w`` rad/s gives thrust ``thrust_coeff * w^2`` along body z and
    reaction torque ``torque_coeff * w^2`` about body z against its spin.
    """

    mass_kg: float
    #: (Ixx, Iyy, Izz) principal moments of inertia, kg m^2.
    inertia: tuple[float, float, float]
    arm_length_m: float
    n_rotors: int
    #: Thrust per rotor speed squared, N / (rad/s)^2.
    thrust_coeff: float
    #: Reaction torque per rotor speed squared, N m / (rad/s)^2.
    torque_coeff: float
    max_rotor_speed_rad_s: float
    #: Body drag: force = drag_coeff * |v_air| * v_air, N / (m/s)^2 (all directions).
    drag_coeff: float
    #: Disc area of ONE rotor, m^2 (momentum-theory power model).
    rotor_disc_area_m2: float
    #: Electrical power = induced power / power_efficiency (figure of merit x motor x ESC).
    power_efficiency: float

    def __post_init__(self) -> None:
        if self.n_rotors not in (4, 6):
            raise ValueError(f"n_rotors must be 4 or 6, found {self.n_rotors!r}")
        if len(self.inertia) != 3 or min(self.inertia) <= 0:
            raise ValueError(f"inertia must be three positive moments, found {self.inertia!r}")
        for name in ("mass_kg", "arm_length_m", "thrust_coeff", "torque_coeff",
                     "max_rotor_speed_rad_s", "rotor_disc_area_m2", "power_efficiency"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, found {value!r}")
        if not (math.isfinite(self.drag_coeff) and self.drag_coeff >= 0):
            raise ValueError(f"drag_coeff must be >= 0, found {self.drag_coeff!r}")
        if self.max_thrust_n <= self.mass_kg * GRAVITY_MPS2:
            raise ValueError(f"the rotors lift at most {self.max_thrust_n:.3g} N, "
                             f"less than the weight {self.mass_kg * GRAVITY_MPS2:.3g} N")

    @property
    def max_thrust_n(self) -> float:
        """Total thrust with every rotor at full speed, N."""
        return self.n_rotors * self.thrust_coeff * self.max_rotor_speed_rad_s ** 2

    def hover_power_w(self, air_density: float = AIR_DENSITY_KG_M3) -> float:
        """Electrical power in a still-air hover by the module's power model, W."""
        t = self.mass_kg * GRAVITY_MPS2 / self.n_rotors
        return (self.n_rotors * t ** 1.5 / math.sqrt(2 * air_density * self.rotor_disc_area_m2)
                / self.power_efficiency)

    @classmethod
    def small_quadrotor(cls) -> MultirotorParams:
        """A typical ~1.5 kg quadrotor (450 mm frame, 10-inch propellers).

        Typical values, not a specific airframe: inertia of published 450-size
        quadrotor models (0.02-0.03 kg m^2 roll/pitch); a 10x4.5 propeller gives
        ~3.7 N (hover for 1.5 kg on four rotors) near 5,000 rpm, so
        thrust_coeff = 3.68 / 524^2 ~ 1.3e-5; torque/thrust ratio ~0.016 m;
        max 780 rad/s (~7,400 rpm) gives thrust-to-weight ~2.1; drag
        0.5 rho Cd A with Cd A ~ 0.05 m^2; figure of merit ~0.6 x motor and ESC
        ~0.85 -> efficiency 0.5, i.e. ~160 W in hover.
        """
        return cls(mass_kg=1.5, inertia=(0.029, 0.029, 0.055), arm_length_m=0.225,
                   n_rotors=4, thrust_coeff=1.3e-5, torque_coeff=2.1e-7,
                   max_rotor_speed_rad_s=780.0, drag_coeff=0.03,
                   rotor_disc_area_m2=math.pi * 0.127 ** 2, power_efficiency=0.5)

    @classmethod
    def heavy_hexacopter(cls) -> MultirotorParams:
        """A typical ~15 kg hexacopter (1.3 m frame, 22-inch propellers).

        Typical values, not a specific airframe: six 22-inch propellers each
        lift ~24.5 N (hover) near 3,000 rpm, so thrust_coeff = 24.5 / 314^2 ~
        2.5e-4; torque/thrust ratio ~0.02 m; max 450 rad/s gives thrust-to-weight
        ~2; inertia from six ~0.6 kg motor/arm masses at 0.65 m plus the body;
        Cd A ~ 0.25 m^2; efficiency 0.55, i.e. ~1.7 kW in hover (heavy-lift
        hexacopters of this mass quote 1.5-2 kW).
        """
        return cls(mass_kg=15.0, inertia=(0.8, 0.8, 1.5), arm_length_m=0.65,
                   n_rotors=6, thrust_coeff=2.5e-4, torque_coeff=5.0e-6,
                   max_rotor_speed_rad_s=450.0, drag_coeff=0.15,
                   rotor_disc_area_m2=math.pi * 0.279 ** 2, power_efficiency=0.55)

    def rotor_layout(self) -> tuple[np.ndarray, np.ndarray]:
        """Rotor positions (n, 3) in the body frame, metres, and spins (n,) (+1 = CCW)."""
        n = self.n_rotors
        start = math.pi / 4 if n == 4 else 0.0
        ang = start + 2 * math.pi * np.arange(n) / n
        pos = np.stack([self.arm_length_m * np.cos(ang), self.arm_length_m * np.sin(ang),
                        np.zeros(n)], axis=1)
        spin = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        return pos, spin

    def mixer(self) -> np.ndarray:
        """Matrix (n, 4) from (collective thrust N, roll, pitch, yaw torque N m) to rotor thrusts."""
        pos, spin = self.rotor_layout()
        kappa = self.torque_coeff / self.thrust_coeff
        alloc = np.stack([np.ones(self.n_rotors), pos[:, 1], -pos[:, 0], -spin * kappa])
        return np.linalg.pinv(alloc)


# --------------------------------------------------------------------------- controller


@dataclass(frozen=True)
class Controller:
    """Limits and gains of the cascaded controller (see the module docstring).

    With the attitude loop much faster than the translational loops (default
    attitude natural frequency sqrt(att_gain) = 18 rad/s against a velocity
    loop of vel_gain = 5 /s), the translation behaves like
    ``x'' = vel_gain * (v_cmd - x') + a_ff``. The speed command's feed-forward
    ``a_ff`` (its own rate of change along the path) makes the vehicle follow
    the braking profile; near the last waypoint ``v_cmd = pos_gain * d`` so the
    distance decays like ``exp(-pos_gain t)`` without overshoot.
    """

    max_speed_mps: float = 12.0
    max_accel_mps2: float = 4.0
    max_tilt_deg: float = 40.0
    #: Vertical speed limit, up and down, m/s.
    max_climb_mps: float = 3.0
    #: Position error -> velocity, 1/s.
    pos_gain: float = 1.5
    #: Velocity error -> acceleration, 1/s.
    vel_gain: float = 5.0
    #: Braking deceleration of the speed profile as a fraction of max_accel_mps2: the
    #: margin lets the velocity loop catch up with the profile while braking.
    brake_fraction: float = 0.8
    #: Velocity error integral -> acceleration, 1/s^2 (rejects steady wind);
    #: frozen while the acceleration is limited, capped at half max_accel.
    vel_int_gain: float = 1.0
    #: Attitude error -> angular acceleration, 1/s^2 (times the inertia: torque).
    att_gain: float = 324.0
    #: Body rate -> angular acceleration, 1/s.
    att_rate_gain: float = 32.0

    def __post_init__(self) -> None:
        for name in ("max_speed_mps", "max_accel_mps2", "max_tilt_deg", "max_climb_mps",
                     "pos_gain", "vel_gain", "att_gain", "att_rate_gain"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, found {value!r}")
        if not 0 < self.max_tilt_deg < 90:
            raise ValueError(f"max_tilt_deg must be in (0, 90), found {self.max_tilt_deg!r}")
        if not 0 < self.brake_fraction <= 1:
            raise ValueError(f"brake_fraction must be in (0, 1], found {self.brake_fraction!r}")
        if not (math.isfinite(self.vel_int_gain) and self.vel_int_gain >= 0):
            raise ValueError(f"vel_int_gain must be >= 0, found {self.vel_int_gain!r}")


def trapezoid_time_s(distance_m: float, max_speed_mps: float, max_accel_mps2: float,
                     decel_mps2: float | None = None) -> float:
    """Time to cover ``distance_m`` from rest to rest: accelerate at ``max_accel``,
    cruise at ``max_speed``, brake at ``decel`` (default ``max_accel``).

    With equal rates: ``L/v + v/a`` when the cruise speed is reached
    (``L >= v^2/a``), else ``2 sqrt(L/a)`` (a triangular profile).
    """
    length, v, a = float(distance_m), float(max_speed_mps), float(max_accel_mps2)
    b = a if decel_mps2 is None else float(decel_mps2)
    if length <= 0:
        return 0.0
    ramps = v * v / (2 * a) + v * v / (2 * b)
    if length >= ramps:
        return (length - ramps) / v + v / a + v / b
    peak = math.sqrt(2 * length * a * b / (a + b))
    return peak / a + peak / b


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Contact:
    """A touch of the terrain: when, where (on the vehicle) and how hard."""

    time_s: float
    position: tuple[float, float, float]
    normal_force_n: float


@dataclass
class Track:
    """One vehicle's flight.

    Samples are taken at the simulator's ``record_hz`` from t = 0 (the start).
    ``arrival_times_s[i]`` is when waypoint ``i`` was reached (NaN if never).
    """

    vehicle: str
    times_s: np.ndarray
    #: (n, 3) positions, m.
    positions: np.ndarray
    #: (n, 3) velocities, m/s.
    velocities: np.ndarray
    #: (n, 3) roll, pitch, yaw, radians.
    attitudes: np.ndarray
    #: (n,) sum of the rotor thrusts, N.
    thrust_n: np.ndarray
    #: (n,) electrical rotor power, W.
    power_w: np.ndarray
    arrival_times_s: np.ndarray
    contacts: list[Contact]
    diverged: bool
    #: Why the flight ended: "done", "contact", "diverged: ...", "timeout".
    end_reason: str
    #: Energy integrated at every physics step, Wh.
    energy_wh: float
    #: Physics time flown, s.
    duration_s: float
    waypoints: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 3)))

    @property
    def completed(self) -> bool:
        """Every waypoint was reached."""
        return bool(np.all(np.isfinite(self.arrival_times_s)))

    @property
    def flyable(self) -> bool:
        """Every waypoint reached, no terrain contact, no divergence."""
        return self.completed and not self.contacts and not self.diverged

    @property
    def leg_times_s(self) -> np.ndarray:
        """Time of each leg: start -> waypoint 0, waypoint 0 -> 1, ... (NaN if not reached)."""
        return np.diff(np.concatenate([[0.0], self.arrival_times_s]))


# --------------------------------------------------------------------------- simulator


class _Flight:
    """Guidance and recording state of one vehicle during a flight."""

    def __init__(self, name: str, params: MultirotorParams, ctl: Controller,
                 waypoints: np.ndarray, start: np.ndarray, hold_s: float | None,
                 max_time_s: float) -> None:
        self.name = name
        self.params = params
        self.ctl = ctl
        self.waypoints = waypoints
        self.start = start
        self.hold_s = hold_s
        self.max_time_s = max_time_s
        self.wp = 0  # index of the current waypoint
        self.arrivals = np.full(len(waypoints), np.nan)
        self.final_time: float | None = None  # when the last waypoint was reached
        self.rows: list[list[float]] = []
        self.contacts: list[Contact] = []
        self.energy_j = 0.0
        self.end_reason: str | None = None
        self.duration_s = 0.0
        self.body = -1
        self.index = 0

    def leg(self) -> tuple[np.ndarray, np.ndarray, float, float, bool]:
        """(A, B, corner speed, along-leg speed limit, is last) of the current leg."""
        ctl = self.ctl
        b = self.waypoints[self.wp]
        a = self.start if self.wp == 0 else self.waypoints[self.wp - 1]
        last = self.wp == len(self.waypoints) - 1
        seg = b - a
        length = float(np.linalg.norm(seg))
        u = seg / length if length > 1e-9 else np.zeros(3)
        vmax = ctl.max_speed_mps
        if abs(u[2]) > 1e-9:
            vmax = min(vmax, ctl.max_climb_mps / abs(u[2]))
        corner = 0.0
        if not last:
            nxt = self.waypoints[self.wp + 1] - b
            n = float(np.linalg.norm(nxt))
            if n > 1e-9 and length > 1e-9:
                cos_t = float(np.clip(np.dot(u, nxt / n), -1.0, 1.0))
                sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t)) if cos_t > 0 else 1.0
                base = math.sqrt(2 * ctl.brake_fraction * ctl.max_accel_mps2 * self.capture_m)
                corner = vmax if sin_t < 1e-9 else min(vmax, base / sin_t)
                # The next leg's own limit (e.g. a climb) caps the speed at the corner.
                un = nxt / n
                nmax = ctl.max_speed_mps
                if abs(un[2]) > 1e-9:
                    nmax = min(nmax, ctl.max_climb_mps / abs(un[2]))
                corner = min(corner, nmax)
        return a, b, corner, vmax, last

    capture_m = 1.0


class FlightSim:
    """A pybullet world in which multirotors fly waypoint plans.

    Parameters
    ----------
    params_by_vehicle:
        Airframe of each vehicle name.
    terrain:
        A :class:`fleetsim.world.terrain.Terrain`, built as a static heightfield
        at the same world x, y, z; ``None`` for open air.
    wind_mps:
        Mean wind (x, y, z), m/s.
    gust_sd_mps:
        Standard deviation of the gusts on each axis, m/s: a first-order
        Gauss-Markov process with time constant ``gust_tau_s``, one per vehicle,
        seeded from ``(seed, vehicle name)``.
    seed:
        Seed of the gusts; the same seed gives identical tracks.
    rate_hz:
        Physics and control rate.
    controller:
        Controller limits and gains, one for all or per vehicle name.
    capture_m:
        A waypoint is reached within this distance, m.
    record_hz:
        Track sample rate; must divide ``rate_hz``.
    """

    def __init__(self, params_by_vehicle: Mapping[str, MultirotorParams], terrain: Any = None,
                 wind_mps: Sequence[float] = (0.0, 0.0, 0.0), gust_sd_mps: float = 0.0,
                 seed: int = 0, rate_hz: float = 240, *,
                 controller: Controller | Mapping[str, Controller] | None = None,
                 gust_tau_s: float = 2.0, capture_m: float = 1.0, record_hz: float = 20,
                 air_density: float = AIR_DENSITY_KG_M3) -> None:
        import pybullet  # heavy; imported only when a simulator is built

        self._p = pybullet
        self.params = dict(params_by_vehicle)
        self.terrain = terrain
        self.wind = np.asarray(wind_mps, dtype=np.float64).reshape(3)
        self.gust_sd = float(gust_sd_mps)
        self.gust_tau = float(gust_tau_s)
        self.seed = int(seed)
        self.rate_hz = float(rate_hz)
        self.dt = 1.0 / self.rate_hz
        steps = self.rate_hz / float(record_hz)
        if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
            raise ValueError(f"record_hz {record_hz} must divide rate_hz {rate_hz}")
        self.record_every = int(round(steps))
        self.capture_m = float(capture_m)
        self.rho = float(air_density)
        if controller is None:
            controller = Controller()
        self._controller = controller
        self.steps = 0  # physics steps of the last flight
        self._client = pybullet.connect(pybullet.DIRECT)
        self._terrain_data: list[float] | None = None
        self.terrain_body = -1
        if terrain is not None:
            # pybullet reads the heightfield with x fastest: the (nx, ny) array
            # heights_m.T in Fortran order (C order is off by hundreds of metres).
            self._terrain_data = np.asarray(terrain.heights_m).T.ravel(order="F").tolist()
        self._reset_world()

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._client is not None and self._client >= 0:
            try:
                self._p.disconnect(physicsClientId=self._client)
            finally:
                self._client = -1

    def __enter__(self) -> FlightSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def controller_of(self, vehicle: str) -> Controller:
        c = self._controller
        return c if isinstance(c, Controller) else c[vehicle]

    # ------------------------------------------------------------ world

    def ground_height(self, xy: Sequence[Sequence[float]]) -> np.ndarray:
        """Height of the terrain body at points (n, 2) by vertical ray tests, m (NaN: no hit).

        Checks the heightfield against :meth:`Terrain.height_at` (Bullet
        triangulates each grid cell, so heights between grid points differ
        from the bilinear ones by up to a fraction of the cell's curvature).
        """
        p, c = self._p, self._client
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        out = np.full(len(pts), np.nan)
        if self.terrain_body < 0:
            return out
        hmin = float(self.terrain.heights_m.min()) - 10.0
        hmax = float(self.terrain.heights_m.max()) + 10.0
        for lo in range(0, len(pts), 16_000):  # pybullet takes < 16,384 rays a batch
            chunk = pts[lo:lo + 16_000]
            res = p.rayTestBatch([(x, y, hmax) for x, y in chunk],
                                 [(x, y, hmin) for x, y in chunk], collisionFilterMask=1,
                                 physicsClientId=c)
            for k, r in enumerate(res):
                if r[0] == self.terrain_body:
                    out[lo + k] = r[3][2]
        return out

    def _reset_world(self) -> None:
        p, c = self._p, self._client
        p.resetSimulation(physicsClientId=c)
        p.setPhysicsEngineParameter(fixedTimeStep=self.dt, deterministicOverlappingPairs=1,
                                    physicsClientId=c)
        p.setGravity(0, 0, -GRAVITY_MPS2, physicsClientId=c)
        self.terrain_body = -1
        if self.terrain is not None:
            t = self.terrain
            ny, nx = t.heights_m.shape
            shape = p.createCollisionShape(
                p.GEOM_HEIGHTFIELD, meshScale=[t.spacing_m, t.spacing_m, 1.0],
                heightfieldData=self._terrain_data, numHeightfieldRows=nx,
                numHeightfieldColumns=ny, physicsClientId=c)
            x0, y0, x1, y1 = t.bounds
            # Bullet centres the heightfield on its bounding box.
            zc = 0.5 * (float(t.heights_m.min()) + float(t.heights_m.max()))
            self.terrain_body = p.createMultiBody(0, shape, basePosition=[
                0.5 * (x0 + x1), 0.5 * (y0 + y1), zc], physicsClientId=c)
            # group 1; collides with vehicles (group 2) and ray tests (group 1)
            p.setCollisionFilterGroupMask(self.terrain_body, -1, 1, 3, physicsClientId=c)

    def _spawn(self, f: _Flight) -> int:
        p, c = self._p, self._client
        prm = f.params
        half = [prm.arm_length_m, prm.arm_length_m, 0.05 + 0.05 * prm.arm_length_m]
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        body = p.createMultiBody(prm.mass_kg, shape, basePosition=f.start.tolist(),
                                 baseInertialFramePosition=[0, 0, 0], physicsClientId=c)
        p.changeDynamics(body, -1, localInertiaDiagonal=list(prm.inertia), linearDamping=0.0,
                         angularDamping=0.0,
                         activationState=p.ACTIVATION_STATE_DISABLE_SLEEPING, physicsClientId=c)
        # Vehicles touch the terrain, not each other.
        p.setCollisionFilterGroupMask(body, -1, 2, 1, physicsClientId=c)
        return body

    # ------------------------------------------------------------ flying

    def fly(self, vehicle: str, waypoints: Sequence[Sequence[float]],
            start_xyz: Sequence[float], hold_s: float | None = None, *,
            max_time_s: float | None = None) -> Track:
        """Fly ``vehicle`` from ``start_xyz`` (hovering) through ``waypoints`` in order.

        ``hold_s``: after reaching the last waypoint, hover there this long
        (``None``: stop on arrival). ``max_time_s`` bounds the flight (default:
        path length / (0.3 x max speed) + 30 s + hold); the flight also ends at
        the first terrain contact or on divergence (tilt > 80 degrees, more than
        50 m from the current leg, or NaN).
        """
        return self.fly_many({vehicle: waypoints}, {vehicle: start_xyz}, hold_s=hold_s,
                             max_time_s=max_time_s)[vehicle]

    def fly_many(self, plans: Mapping[str, Sequence[Sequence[float]]],
                 starts: Mapping[str, Sequence[float]], hold_s: float | None = None, *,
                 max_time_s: float | None = None) -> dict[str, Track]:
        """Fly several vehicles together in one world (see :meth:`fly`).

        Each call starts a fresh world, so results do not depend on earlier
        calls. Returns a :class:`Track` per vehicle name.
        """
        c = self._client
        if c is None or c < 0:
            raise RuntimeError("the simulator is closed")
        flights: list[_Flight] = []
        for name, wps in plans.items():
            if name not in self.params:
                raise KeyError(f"no MultirotorParams for vehicle {name!r}")
            w = np.asarray(wps, dtype=np.float64).reshape(-1, 3)
            if len(w) == 0:
                raise ValueError(f"vehicle {name!r} has no waypoints")
            s = np.asarray(starts[name], dtype=np.float64).reshape(3)
            ctl = self.controller_of(name)
            length = float(np.linalg.norm(np.diff(np.vstack([s, w]), axis=0), axis=1).sum())
            limit = (max_time_s if max_time_s is not None else
                     length / (0.3 * ctl.max_speed_mps) + 30.0 + (hold_s or 0.0))
            f = _Flight(name, self.params[name], ctl, w, s, hold_s, limit)
            f.capture_m = self.capture_m
            flights.append(f)

        self._reset_world()
        for f in flights:
            f.body = self._spawn(f)
        self.steps = 0
        self._run(flights)
        return {f.name: self._track(f) for f in flights}

    # ------------------------------------------------------------ main loop

    def _stack(self, flights: list[_Flight]) -> dict[str, np.ndarray]:
        """Per-vehicle constants and state as arrays with one row per active flight."""
        n = len(flights)
        st: dict[str, np.ndarray] = {
            "mass": np.array([f.params.mass_kg for f in flights]),
            "J": np.array([f.params.inertia for f in flights], dtype=np.float64),
            "drag": np.array([f.params.drag_coeff for f in flights]),
            "tmax": np.zeros((n, _MAX_ROTORS)),
            "mix": np.zeros((n, _MAX_ROTORS, 4)),
            "yawk": np.zeros((n, _MAX_ROTORS)),
            "pcoef": np.array([1.0 / (math.sqrt(2 * self.rho * f.params.rotor_disc_area_m2)
                                      * f.params.power_efficiency) for f in flights]),
            "vmax_abs": np.array([f.ctl.max_speed_mps for f in flights]),
            "climb": np.array([f.ctl.max_climb_mps for f in flights]),
            "amax": np.array([f.ctl.max_accel_mps2 for f in flights]),
            "abrake": np.array([f.ctl.brake_fraction * f.ctl.max_accel_mps2 for f in flights]),
            "tan_tilt": np.array([math.tan(math.radians(f.ctl.max_tilt_deg)) for f in flights]),
            "kp": np.array([f.ctl.pos_gain for f in flights]),
            "kv": np.array([f.ctl.vel_gain for f in flights]),
            "ki": np.array([f.ctl.vel_int_gain for f in flights]),
            "kR": np.array([f.ctl.att_gain for f in flights]),
            "kW": np.array([f.ctl.att_rate_gain for f in flights]),
            "integ": np.zeros((n, 3)),
            "A": np.zeros((n, 3)), "B": np.zeros((n, 3)), "u": np.zeros((n, 3)),
            "len": np.zeros(n), "corner": np.zeros(n), "vmax": np.zeros(n),
            "last": np.zeros(n, dtype=bool), "point": np.zeros(n, dtype=bool),
            "finished": np.zeros(n, dtype=bool),
            "contact": np.zeros(n, dtype=bool),
            "t_end": np.array([np.inf if f.final_time is None else
                               f.final_time + (f.hold_s or 0.0) for f in flights]),
            "t_max": np.array([f.max_time_s for f in flights]),
        }
        for i, f in enumerate(flights):
            k = f.params.n_rotors
            st["tmax"][i, :k] = f.params.thrust_coeff * f.params.max_rotor_speed_rad_s ** 2
            st["mix"][i, :k] = f.params.mixer()
            _, spin = f.params.rotor_layout()
            st["yawk"][i, :k] = -spin * f.params.torque_coeff / f.params.thrust_coeff
            self._set_leg(st, i, f)
        return st

    @staticmethod
    def _set_leg(st: dict[str, np.ndarray], i: int, f: _Flight) -> None:
        a, b, corner, vmax, last = f.leg()
        seg = b - a
        length = float(np.linalg.norm(seg))
        st["A"][i], st["B"][i] = a, b
        st["u"][i] = seg / length if length > 1e-9 else 0.0
        st["len"][i] = length
        st["corner"][i], st["vmax"][i], st["last"][i] = corner, vmax, last
        st["point"][i] = f.final_time is not None or length <= 1e-9
        st["finished"][i] = f.final_time is not None

    def _run(self, flights: list[_Flight]) -> None:
        p, c = self._p, self._client
        dt = self.dt
        gbpo, gbv = p.getBasePositionAndOrientation, p.getBaseVelocity
        gmfq, aef, aet = p.getMatrixFromQuaternion, p.applyExternalForce, p.applyExternalTorque
        link, world = p.LINK_FRAME, p.WORLD_FRAME
        n_all = len(flights)
        for k, f in enumerate(flights):
            f.index = k
        rotor_pos = [[r.tolist() for r in f.params.rotor_layout()[0]] for f in flights]
        # Gusts: one Gauss-Markov process per vehicle, from its own random stream,
        # drawn in blocks (the same draws whatever the block size or the fleet).
        gusts = self.gust_sd > 0
        phi = math.exp(-dt / self.gust_tau) if gusts else 0.0
        gust_scale = self.gust_sd * math.sqrt(1 - phi * phi)
        rngs = [make_rng(self.seed, f"fidelity.gust:{f.name}") for f in flights]
        gust = np.zeros((n_all, 3))
        blocks = np.zeros((n_all, _GUST_BLOCK, 3))
        if gusts:
            gust = self.gust_sd * np.array([r.standard_normal(3) for r in rngs])
        energy = np.zeros(n_all)
        cos_div = math.cos(math.radians(_MAX_TILT_DEG))
        gvec = np.array([0.0, 0.0, GRAVITY_MPS2])
        active = list(flights)
        idx = np.arange(n_all)
        st = self._stack(active)
        step = 0

        def read_state() -> tuple[list[tuple[float, ...]], np.ndarray]:
            rows = []
            for f in active:
                pos, orn = gbpo(f.body, physicsClientId=c)
                lin, ang = gbv(f.body, physicsClientId=c)
                rows.append(pos + lin + ang + gmfq(orn) + orn)
            return rows, np.array(rows)

        while active:
            t = step * dt
            rows, S = read_state()
            # ---- waypoint arrivals, end of flights
            ended = self._bookkeep(active, st, S, t, cos_div)
            if ended:
                for f in ended:
                    f.duration_s = t
                    f.energy_j = float(energy[f.index])
                    p.removeBody(f.body, physicsClientId=c)
                keep = np.array([f.end_reason is None for f in active])
                active = [f for f in active if f.end_reason is None]
                if not active:
                    break
                integ = st["integ"][keep]
                st = self._stack(active)
                st["integ"] = integ
                idx = np.array([f.index for f in active])
                rows, S = read_state()
            P, V, W = S[:, 0:3], S[:, 3:6], S[:, 6:9]
            R = S[:, 9:18].reshape(-1, 3, 3)

            # ---- wind
            if gusts:
                k = step % _GUST_BLOCK
                if k == 0:
                    for i, r in enumerate(rngs):
                        blocks[i] = r.standard_normal((_GUST_BLOCK, 3))
                gust *= phi
                gust += gust_scale * blocks[:, k]
                wind = gust[idx] + self.wind
            else:
                wind = self.wind

            thrusts, yaw_t, drag_f = self._control(st, P, V, W, R, wind, gvec, dt)

            # ---- energy, recording
            power = (thrusts * np.sqrt(thrusts)).sum(axis=1) * st["pcoef"]
            energy[idx] += power * dt
            if step % self.record_every == 0:
                tsum = thrusts.sum(axis=1).tolist()
                pw = power.tolist()
                for i, f in enumerate(active):
                    r = rows[i]
                    f.rows.append([t, *r[0:6], *_euler(r[18:22]), tsum[i], pw[i]])

            # ---- apply the rotor forces, the rotors' yaw torque and the drag
            thr = thrusts.tolist()
            drg = drag_f.tolist()
            yw = yaw_t.tolist()
            for i, f in enumerate(active):
                b = f.body
                ti = thr[i]
                for k, rp in enumerate(rotor_pos[f.index]):
                    aef(b, -1, [0.0, 0.0, ti[k]], rp, link, physicsClientId=c)
                aef(b, -1, drg[i], rows[i][0:3], world, physicsClientId=c)
                aet(b, -1, [0.0, 0.0, yw[i]], link, physicsClientId=c)
            p.stepSimulation(physicsClientId=c)
            step += 1
            self.steps += 1

            # ---- contacts with the terrain (one query for all vehicles)
            if self.terrain_body >= 0:
                cps = p.getContactPoints(bodyA=self.terrain_body, physicsClientId=c)
                if cps:
                    by_body = {f.body: (i, f) for i, f in enumerate(active)}
                    for cp in cps:
                        hit = by_body.get(cp[2])
                        if hit is not None:
                            hit[1].contacts.append(
                                Contact(step * dt, tuple(cp[6]), float(cp[9])))
                            st["contact"][hit[0]] = True

    def _bookkeep(self, active: list[_Flight], st: dict[str, np.ndarray], S: np.ndarray,
                  t: float, cos_div: float) -> list[_Flight]:
        """Advance waypoints and find the flights that end now (their end_reason set)."""
        P = S[:, 0:3]
        e = st["B"] - P
        dist = np.sqrt((e * e).sum(axis=1))
        for i in np.flatnonzero((dist <= self.capture_m) & ~st["finished"]):
            f = active[i]
            # this waypoint, and any following ones already within reach
            while f.final_time is None and np.linalg.norm(st["B"][i] - P[i]) <= self.capture_m:
                f.arrivals[f.wp] = t
                if f.wp + 1 < len(f.waypoints):
                    f.wp += 1
                else:
                    f.final_time = t
                    st["t_end"][i] = t + (f.hold_s or 0.0)
                self._set_leg(st, i, f)
            e[i] = st["B"][i] - P[i]
            dist[i] = np.linalg.norm(e[i])
        # deviation from the leg (or from the hold point)
        ap = P - st["A"]
        along = (ap * st["u"]).sum(axis=1)
        cross = ap - along[:, None] * st["u"]
        dev = np.where(st["point"], dist, np.sqrt((cross * cross).sum(axis=1)))
        bad = ~np.isfinite(S).all(axis=1)
        tilt = S[:, 17] < cos_div  # R[2, 2]: cosine of the tilt
        far = dev > _MAX_PATH_DEVIATION_M
        done = t >= st["t_end"] - 1e-9
        late = t >= st["t_max"]
        flag = bad | tilt | far | st["contact"] | done | late
        ended = []
        for i in np.flatnonzero(flag):
            f = active[i]
            if bad[i]:
                f.end_reason = "diverged: NaN state"
            elif tilt[i]:
                f.end_reason = f"diverged: tilt > {_MAX_TILT_DEG:g} degrees"
            elif far[i]:
                f.end_reason = f"diverged: more than {_MAX_PATH_DEVIATION_M:g} m from the path"
            elif st["contact"][i]:
                f.end_reason = "contact"
            elif done[i]:
                f.end_reason = "done"
            else:
                f.end_reason = "timeout"
            ended.append(f)
        return ended

    @staticmethod
    def _control(st: dict[str, np.ndarray], P: np.ndarray, V: np.ndarray, W: np.ndarray,
                 R: np.ndarray, wind: np.ndarray, gvec: np.ndarray,
                 dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cascaded controller for every active vehicle at once.

        Returns rotor thrusts (n, 6) N, yaw torques (n,) N m (body z) and drag
        forces (n, 3) N (world).
        """
        A, B, u = st["A"], st["B"], st["u"]
        amax, kp = st["amax"], st["kp"]
        # --- guidance: speed along the leg, cross-track correction
        ap = P - A
        along = np.einsum("ij,ij->i", ap, u)
        d = st["len"] - along
        cross = A + along[:, None] * u - P
        e = B - P
        en = np.sqrt(np.einsum("ij,ij->i", e, e))
        point = st["point"] | (d <= 0.0)
        # distance to go and direction: along the leg, or straight at the point
        dist = np.where(point, en, d)
        dirn = np.where(point[:, None], e / np.maximum(en, 1e-9)[:, None], u)
        corner = np.where(point, 0.0, st["corner"])
        vcap = np.where(point, st["vmax_abs"], st["vmax"])
        ab = st["abrake"]
        s_brake = np.sqrt(corner * corner + 2.0 * ab * np.maximum(dist, 0.0))
        lin = st["last"] | point
        s_lin = np.where(lin, kp * dist, np.inf)
        s = np.minimum(np.minimum(vcap, s_brake), s_lin)
        # feed-forward: rate of change of the speed command as the distance shrinks
        v_along = np.maximum(np.einsum("ij,ij->i", V, dirn), 0.0)
        slope = np.where(s == s_lin, kp,
                         np.where(s == s_brake, ab / np.maximum(s_brake, 1e-6), 0.0))
        a_ff = -(slope * v_along)[:, None] * dirn
        v_cmd = s[:, None] * dirn + np.where(point[:, None], 0.0, kp[:, None] * cross)
        # limits: total speed, vertical speed
        vn = np.sqrt(np.einsum("ij,ij->i", v_cmd, v_cmd))
        v_cmd *= np.minimum(1.0, st["vmax_abs"] / np.maximum(vn, 1e-9))[:, None]
        np.clip(v_cmd[:, 2], -st["climb"], st["climb"], out=v_cmd[:, 2])
        # --- velocity loop
        ev = v_cmd - V
        integ = st["integ"]
        a_cmd = st["kv"][:, None] * ev + integ + a_ff
        an = np.sqrt(np.einsum("ij,ij->i", a_cmd, a_cmd))
        sat = an > amax
        a_cmd *= np.minimum(1.0, amax / np.maximum(an, 1e-9))[:, None]
        # integrate only when not limited; cap at half the acceleration limit
        integ += np.where(sat[:, None], 0.0, st["ki"][:, None] * ev * dt)
        inn = np.sqrt(np.einsum("ij,ij->i", integ, integ))
        integ *= np.minimum(1.0, 0.5 * amax / np.maximum(inn, 1e-9))[:, None]
        # --- thrust vector: gravity plus the drag the vehicle expects in still air
        m = st["mass"]
        speed = np.sqrt(np.einsum("ij,ij->i", V, V))
        f = m[:, None] * (a_cmd + gvec) + (st["drag"] * speed)[:, None] * V
        fz = np.maximum(f[:, 2], 0.2 * m * gvec[2])
        fh = np.sqrt(f[:, 0] ** 2 + f[:, 1] ** 2)
        hmax = fz * st["tan_tilt"]
        scale = np.minimum(1.0, hmax / np.maximum(fh, 1e-9))
        f = np.stack([f[:, 0] * scale, f[:, 1] * scale, fz], axis=1)
        # --- desired attitude: body z along the thrust, yaw held at 0
        zd = f / np.sqrt(np.einsum("ij,ij->i", f, f))[:, None]
        yd = np.stack([np.zeros(len(zd)), zd[:, 2], -zd[:, 1]], axis=1)  # zd x (1, 0, 0)
        yd /= np.sqrt(np.einsum("ij,ij->i", yd, yd))[:, None]
        xd = _cross(yd, zd)
        Rd = np.stack([xd, yd, zd], axis=2)
        M = np.einsum("nji,njk->nik", Rd, R)  # Rd^T R
        E = M - M.transpose(0, 2, 1)
        eR = 0.5 * np.stack([E[:, 2, 1], E[:, 0, 2], E[:, 1, 0]], axis=1)
        wb = np.einsum("nji,nj->ni", R, W)  # body rates
        J = st["J"]
        tau = (J * (-st["kR"][:, None] * eR - st["kW"][:, None] * wb)
               + _cross(wb, J * wb))
        thrust = np.einsum("ij,ij->i", f, R[:, :, 2])
        u4 = np.concatenate([thrust[:, None], tau], axis=1)
        # --- mixer: rotor thrusts, rotor speeds clipped to [0, max]
        rotor = np.einsum("nrk,nk->nr", st["mix"], u4)
        np.clip(rotor, 0.0, st["tmax"], out=rotor)
        yaw = np.einsum("nr,nr->n", rotor, st["yawk"])
        # --- aerodynamic drag from the air-relative velocity
        vr = V - wind
        drag = -(st["drag"] * np.sqrt(np.einsum("ij,ij->i", vr, vr)))[:, None] * vr
        return rotor, yaw, drag

    # ------------------------------------------------------------ results

    def _track(self, f: _Flight) -> Track:
        rows = np.array(f.rows, dtype=np.float64).reshape(-1, 12)
        return Track(
            vehicle=f.name, times_s=rows[:, 0].copy(), positions=rows[:, 1:4].copy(),
            velocities=rows[:, 4:7].copy(), attitudes=rows[:, 7:10].copy(),
            thrust_n=rows[:, 10].copy(), power_w=rows[:, 11].copy(),
            arrival_times_s=f.arrivals.copy(), contacts=list(f.contacts),
            diverged=bool(f.end_reason and f.end_reason.startswith("diverged")),
            end_reason=f.end_reason or "", energy_wh=f.energy_j / 3600.0,
            duration_s=f.duration_s, waypoints=f.waypoints.copy())


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (n, 3) arrays (np.cross costs ~15 us a call)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def _euler(q: Sequence[float]) -> tuple[float, float, float]:
    """Roll, pitch, yaw (radians) of a quaternion (x, y, z, w)."""
    x, y, z, w = q
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return roll, pitch, yaw
