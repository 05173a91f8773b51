"""Vehicle states as the engine tracks them and policies see them."""

STATES = ("ground", "takeoff", "moving", "holding", "returning", "landing", "queued",
          "charging", "down")
GROUND, TAKEOFF, MOVING, HOLDING, RETURNING, LANDING, QUEUED, CHARGING, DOWN = range(9)
#: States in which a policy may not give a vehicle a plan.
LOCKED_STATES = frozenset({LANDING, QUEUED, CHARGING, DOWN})
