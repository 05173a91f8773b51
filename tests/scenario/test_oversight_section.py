"""The ``oversight:`` section, fixed sensors on sites and relays on vehicle types: values,
errors (file:line: path: message), overrides and the plain-data source round trip."""

from __future__ import annotations

import json

import pytest

from fleetsim.errors import ScenarioError
from fleetsim.oversight import Deterministic, Exponential, Lognormal, Uniform
from fleetsim.scenario import (
    OversightSpec,
    ReviewSpec,
    RuleSpec,
    ShiftSpec,
    SiteSpec,
    StopSpec,
    load_scenario_text,
    scenario_from_source,
)

FILE = "scenarios/o.yaml"

# Line numbers matter: the expected messages below name them.
TEXT = """\
name: coast
run: {duration_s: 7200, seed: 1}
world:
  sites:
    - {id: home, kind: base, position: [10, 10], radio_range_m: 8000}
    - {id: buoy, kind: ground_station, position: [500, 500], sensor_radius_m: 500, false_alarms_per_hour: 2}
fleet:
  types:
    - {id: q, kind: multirotor, count: 8, base: home, cruise_speed_mps: 10, climb_rate_mps: 2,
       battery_wh: 100, hover_power_w: 200, cruise_power_w: 150, recharge_time_s: 600,
       sensor: {footprint_radius_m: 40}, relay_range_m: 4000}
policy: {name: lawnmower}
oversight:
  operators: 3
  shifts:
    - {start_s: 0, end_s: 14400, count: 2}
    - {start_s: 3600, end_s: 7200, count: 1}
  span_of_control: 40
  approval_needs_link: false
  rules:
    takeoff: auto
    retask: {rule: approve, service: {dist: exponential, mean_s: 30}, priority: 2, timeout_s: 300,
             approve_probability: 0.95, two_person: false}
    enter_restricted: {rule: veto, veto_window_s: 45, service: 20}
    continue_lost_link: forbidden
    leave_mission_area:
      rule: notify
      service:
        dist: uniform
        low_s: 5
        high_s: 15
  detection_review: {service: {dist: lognormal, mean_s: 20, cv: 0.5}, priority: 1,
                     false_alarms_per_vehicle_hour: 0.5, timeout_s: 600}
  stops:
    - {time_s: 3000, vehicles: all, safe_state: return}
    - {time_s: 5000, vehicles: [0, 7], safe_state: land}
"""

#: TEXT without the oversight section.
PLAIN = TEXT[:TEXT.index("oversight:")]


def edit(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def error_of(text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, filename=FILE, overrides=overrides)
    return str(info.value)


def test_line_numbers_of_the_fixture_are_what_the_messages_assume():
    lines = TEXT.splitlines()
    assert lines[13] == "  operators: 3"
    assert lines[21].startswith("    retask:")
    assert lines[35].startswith("    - {time_s: 5000")


# --------------------------------------------------------------------------------------
# Values


def test_full_section_loads_into_the_dataclasses():
    s = load_scenario_text(TEXT, filename=FILE)
    o = s.oversight
    assert isinstance(o, OversightSpec)
    assert o.operators == 3 and type(o.operators) is int
    assert o.shifts == (ShiftSpec(0.0, 14400.0, 2), ShiftSpec(3600.0, 7200.0, 1))
    assert o.span_of_control == 40
    assert o.approval_needs_link is False
    assert list(o.rules) == ["takeoff", "retask", "enter_restricted", "continue_lost_link",
                             "leave_mission_area"]
    # A bare name: every other field at its default, service None ("engine default").
    assert o.rules["takeoff"] == RuleSpec(rule="auto")
    assert o.rules["takeoff"].service is None
    assert o.rules["continue_lost_link"] == RuleSpec(rule="forbidden")
    retask = o.rules["retask"]
    assert retask == RuleSpec(rule="approve", service=Exponential(30.0), priority=2,
                              timeout_s=300.0, approve_probability=0.95, two_person=False)
    assert type(retask.service) is Exponential and retask.service.mean_s == 30.0
    veto = o.rules["enter_restricted"]
    assert (veto.rule, veto.veto_window_s, veto.timeout_s) == ("veto", 45.0, None)
    assert type(veto.service) is Deterministic and veto.service.value_s == 20.0
    notify = o.rules["leave_mission_area"]
    assert notify.rule == "notify" and notify.service == Uniform(5.0, 15.0)
    assert o.rule_for("survey") == RuleSpec()        # classes not listed are auto
    review = o.detection_review
    assert review == ReviewSpec(service=Lognormal(20.0, 0.5), priority=1,
                                false_alarms_per_vehicle_hour=0.5, timeout_s=600.0)
    assert type(review.service) is Lognormal and review.service.cv == 0.5
    assert o.stops == (StopSpec(3000.0, None, "return"), StopSpec(5000.0, (0, 7), "land"))
    assert type(o.stops[1].vehicles) is tuple


def test_sensors_and_relays():
    s = load_scenario_text(TEXT)
    home, buoy = s.sites
    assert home == SiteSpec("home", "base", (10.0, 10.0), radio_range_m=8000.0)
    assert (home.sensor_radius_m, home.false_alarms_per_hour) == (None, 0.0)
    assert (buoy.sensor_radius_m, buoy.false_alarms_per_hour) == (500.0, 2.0)
    assert s.vehicle_types[0].relay_range_m == 4000.0
    assert load_scenario_text(PLAIN, overrides=["fleet.types[0].relay_range_m=null"]
                              ).vehicle_types[0].relay_range_m is None


def test_defaults_of_a_small_section():
    s = load_scenario_text(PLAIN + "oversight: {operators: 1}\n")
    assert s.oversight == OversightSpec(operators=1)
    o = s.oversight
    assert (o.shifts, o.rules, o.stops, o.detection_review) == ((), {}, (), None)
    assert (o.span_of_control, o.approval_needs_link) == (None, True)
    empty = load_scenario_text(PLAIN + "oversight:\n  operators: 2\n  rules:\n  shifts:\n"
                                       "  detection_review: {}\n  stops: [{time_s: 10}]\n")
    assert empty.oversight.rules == {} and empty.oversight.shifts == ()
    assert empty.oversight.detection_review == ReviewSpec()
    assert empty.oversight.stops == (StopSpec(10.0, None, "return"),)


def test_scenarios_without_the_section_have_no_oversight():
    s = load_scenario_text(PLAIN)
    assert s.oversight is None
    assert s.source["oversight"] is None
    assert load_scenario_text(PLAIN + "oversight:\n").oversight is None


def test_locations_of_the_new_nodes():
    s = load_scenario_text(TEXT, filename=FILE)
    assert s.locate("oversight") == (FILE, 13)
    assert s.locate("oversight.operators") == (FILE, 14)
    assert s.locate("oversight.shifts[1].count") == (FILE, 17)
    assert s.locate("oversight.rules.retask.service.mean_s") == (FILE, 22)
    assert s.locate("oversight.rules.leave_mission_area.service.high_s") == (FILE, 31)
    assert s.locate("oversight.stops[1].vehicles[1]") == (FILE, 36)
    assert s.locate("world.sites[1].sensor_radius_m") == (FILE, 6)
    assert s.locate("fleet.types[0].relay_range_m") == (FILE, 11)


# --------------------------------------------------------------------------------------
# Errors

ERRORS = [
    pytest.param("    retask:", "    retsk:",
                 "scenarios/o.yaml:22: oversight.rules.retsk: unknown action class 'retsk'; did "
                 "you mean 'retask'? (action classes: takeoff, transit, survey, hold, return, "
                 "retask, pickup, deliver, enter_restricted, leave_mission_area, continue_lost_link, "
                 "classify_detection, emergency_landing, stop)", id="unknown-action-class"),
    pytest.param("takeoff: auto", "takeoff: aprove",
                 "scenarios/o.yaml:21: oversight.rules.takeoff: expected one of 'auto', 'notify', "
                 "'veto', 'approve', 'forbidden', got 'aprove'; did you mean 'approve'?",
                 id="unknown-rule-name"),
    pytest.param("rule: veto", "rule: object",
                 "scenarios/o.yaml:24: oversight.rules.enter_restricted.rule: expected one of "
                 "'auto', 'notify', 'veto', 'approve', 'forbidden', got 'object'",
                 id="unknown-rule-in-mapping"),
    pytest.param("{rule: veto, ", "{",
                 "scenarios/o.yaml:24: oversight.rules.enter_restricted: missing required key "
                 "'rule' (one of 'auto', 'notify', 'veto', 'approve', 'forbidden')",
                 id="rule-mapping-needs-rule"),
    pytest.param("takeoff: auto", "takeoff: [auto]",
                 "scenarios/o.yaml:21: oversight.rules.takeoff: expected one of 'auto', 'notify', "
                 "'veto', 'approve', 'forbidden' or a mapping with keys rule, service, priority, "
                 "timeout_s, veto_window_s, approve_probability, two_person, got a list of 1 item",
                 id="rule-of-wrong-type"),
    pytest.param("mean_s: 30}", "mean_s: -30}",
                 "scenarios/o.yaml:22: oversight.rules.retask.service.mean_s: exponential service "
                 "time: mean_s must be > 0, got -30; expected {dist: exponential, mean_s: M}",
                 id="bad-distribution-parameter"),
    pytest.param("dist: lognormal", "dist: lognormall",
                 "scenarios/o.yaml:32: oversight.detection_review.service.dist: unknown "
                 "service-time distribution 'lognormall' (did you mean 'lognormal'?); valid forms: "
                 "a number of seconds (deterministic), or one of "
                 "{dist: deterministic, value_s: V}, {dist: exponential, mean_s: M}, {dist: lognormal, mean_s: M, cv: C}, "
                 "{dist: gamma, mean_s: M, cv: C}, {dist: uniform, low_s: A, high_s: B}",
                 id="unknown-distribution"),
    pytest.param("{dist: exponential, mean_s: 30}", "{dist: exponential, mean: 30}",
                 "scenarios/o.yaml:22: oversight.rules.retask.service.mean: exponential service "
                 "time: missing mean_s; unexpected mean; expected {dist: exponential, mean_s: M}",
                 id="distribution-key"),
    pytest.param("        high_s: 15\n", "        high_s: 1\n",
                 "scenarios/o.yaml:28: oversight.rules.leave_mission_area.service: uniform service "
                 "time: uniform needs low_s <= high_s, got low_s=5.0, high_s=1.0; expected "
                 "{dist: uniform, low_s: A, high_s: B}", id="distribution-block-mapping"),
    pytest.param("service: 20}", "service: -20}",
                 "scenarios/o.yaml:24: oversight.rules.enter_restricted.service: service time: "
                 "value_s must be >= 0, got -20", id="negative-deterministic-service"),
    pytest.param("{start_s: 3600, end_s: 7200,", "{start_s: 3600, end_s: 3600,",
                 "scenarios/o.yaml:17: oversight.shifts[1].end_s: expected end_s > start_s = 3600, "
                 "got 3600.0 (a shift must end after it starts)", id="shift-ends-before-start"),
    pytest.param("count: 1}", "count: 2}",
                 "scenarios/o.yaml:17: oversight.shifts[1].count: the shifts put 4 operators on "
                 "duty at t = 3600 s, but oversight.operators is 3 (overlapping shifts add up)",
                 id="shifts-exceed-operators"),
    pytest.param("vehicles: [0, 7]", "vehicles: [0, 8]",
                 "scenarios/o.yaml:36: oversight.stops[1].vehicles[1]: vehicle index 8 is out of "
                 "range: the fleet has 8 vehicles (valid indexes 0..7)", id="stop-vehicle-index"),
    pytest.param("vehicles: [0, 7]", "vehicles: [7, 7]",
                 "scenarios/o.yaml:36: oversight.stops[1].vehicles[1]: vehicle 7 is listed twice "
                 "(already at oversight.stops[1].vehicles[0])", id="stop-vehicle-twice"),
    pytest.param("vehicles: all", "vehicles: al",
                 "scenarios/o.yaml:35: oversight.stops[0].vehicles: expected 'all' or a list of "
                 "vehicle indexes (integers >= 0), got 'al'; did you mean 'all'?",
                 id="stop-vehicles-word"),
    pytest.param("safe_state: land", "safe_state: hover",
                 "scenarios/o.yaml:36: oversight.stops[1].safe_state: expected one of 'return', "
                 "'land', got 'hover'", id="safe-state"),
    pytest.param("approve_probability: 0.95", "approve_probability: 1.5",
                 "scenarios/o.yaml:23: oversight.rules.retask.approve_probability: expected a "
                 "number >= 0 and <= 1, got 1.5", id="approve-probability"),
    pytest.param("veto_window_s: 45", "veto_window_s: 0",
                 "scenarios/o.yaml:24: oversight.rules.enter_restricted.veto_window_s: expected a "
                 "number > 0 and <= 1e+09, got 0", id="veto-window"),
    pytest.param("timeout_s: 300", "timeout_s: 0",
                 "scenarios/o.yaml:22: oversight.rules.retask.timeout_s: expected a number > 0 and "
                 "<= 1e+09 or null, got 0", id="timeout"),
    pytest.param("takeoff: auto", "takeoff: {rule: auto, service: 5}",
                 "scenarios/o.yaml:21: oversight.rules.takeoff.service: rule 'auto' gives the "
                 "operators no work, so takeoff takes no service time (leave service out, or "
                 "choose rule notify, veto or approve)", id="auto-takes-no-service"),
    pytest.param("operators: 3", "operator: 3",
                 "scenarios/o.yaml:14: oversight.operator: unknown key 'operator'; did you mean "
                 "'operators'? (valid keys: operators, shifts, span_of_control, "
                 "approval_needs_link, rules, detection_review, stops)", id="unknown-key"),
    pytest.param("operators: 3", "operators: 0",
                 "scenarios/o.yaml:14: oversight.operators: expected an integer >= 1 and <= 100000, got 0",
                 id="operators"),
    pytest.param("span_of_control: 40", "span_of_control: 2.5",
                 "scenarios/o.yaml:18: oversight.span_of_control: expected an integer >= 1 and <= 200000 or "
                 "null, got 2.5", id="span-of-control"),
    pytest.param("false_alarms_per_vehicle_hour: 0.5", "false_alarms_per_vehicle_hour: -1",
                 "scenarios/o.yaml:33: oversight.detection_review.false_alarms_per_vehicle_hour: "
                 "expected a number >= 0 and <= 3600, got -1", id="review-false-alarms"),
    pytest.param("sensor_radius_m: 500,", "sensor_radius_m: 0,",
                 "scenarios/o.yaml:6: world.sites[1].sensor_radius_m: expected a number > 0 and <= 1e+07 or "
                 "null, got 0", id="sensor-radius"),
    pytest.param("sensor_radius_m: 500, ", "",
                 "scenarios/o.yaml:6: world.sites[1].false_alarms_per_hour: false alarms come "
                 "from a fixed sensor, but site 'buoy' has none (give sensor_radius_m, or set "
                 "false_alarms_per_hour to 0)", id="false-alarms-need-a-sensor"),
    pytest.param("relay_range_m: 4000", "relay_range_m: -1",
                 "scenarios/o.yaml:11: fleet.types[0].relay_range_m: expected a number > 0 and <= 1e+07 or "
                 "null, got -1", id="relay-range"),
]


@pytest.mark.parametrize(("old", "new", "message"), ERRORS)
def test_error_messages(old, new, message):
    assert error_of(edit(old, new)) == message


def test_two_person_needs_two_operators():
    text = edit("two_person: false", "two_person: true")
    assert error_of(text, ("oversight.operators=1", "oversight.shifts=null")) == (
        "scenarios/o.yaml:23: oversight.rules.retask.two_person: a two-person rule needs at "
        "least 2 operators on duty at once, but oversight.operators is 1")
    assert error_of(text, ("oversight.shifts=[{start_s: 0, end_s: 3600, count: 1}, "
                           "{start_s: 3600, end_s: 7200, count: 1}]",)) == (
        "scenarios/o.yaml:23: oversight.rules.retask.two_person: a two-person rule needs at "
        "least 2 operators on duty at once, but the shifts never put more than 1 on duty")
    # Two on duty at once is enough (here the two shifts of one overlap 3600..7200).
    s = load_scenario_text(text, overrides=["oversight.shifts[0].count=1"])
    assert s.oversight.rules["retask"].two_person is True


def test_error_attributes():
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(edit("mean_s: 30}", "mean_s: 0}"), filename=FILE)
    e = info.value
    assert (e.file, e.line, e.path) == (FILE, 22, "oversight.rules.retask.service.mean_s")
    assert e.message.startswith("exponential service time: mean_s must be > 0")


def test_stop_in_a_fleet_without_vehicles():
    assert error_of(TEXT, ("fleet.types[0].count=0",)) == (
        "scenarios/o.yaml:36: oversight.stops[1].vehicles[0]: vehicle index 0 is out of range: "
        "the fleet has no vehicles")


# --------------------------------------------------------------------------------------
# Overrides


def test_overrides_of_the_section():
    s = load_scenario_text(TEXT, overrides=[
        "oversight.operators=5", "oversight.rules.retask.rule=notify",
        "oversight.rules.takeoff=approve", "oversight.rules.survey={rule: veto, service: 12}",
        "oversight.detection_review.service={dist: gamma, mean_s: 40, cv: 0.3}",
        "oversight.stops[1].vehicles=all", "world.sites[1].sensor_radius_m=250"])
    o = s.oversight
    assert o.operators == 5
    # Changing the rule keeps the rest of the mapping.
    assert o.rules["retask"] == RuleSpec(rule="notify", service=Exponential(30.0), priority=2,
                                         timeout_s=300.0, approve_probability=0.95)
    assert o.rules["takeoff"] == RuleSpec(rule="approve")
    assert o.rules["survey"] == RuleSpec(rule="veto", service=Deterministic(12.0))
    assert o.detection_review.service.to_dict() == {"dist": "gamma", "mean_s": 40.0, "cv": 0.3}
    assert o.stops[1].vehicles is None
    assert s.sites[1].sensor_radius_m == 250.0
    replaced = load_scenario_text(TEXT, overrides=["oversight.rules.retask=approve"])
    assert replaced.oversight.rules["retask"] == RuleSpec(rule="approve")


def test_overrides_add_and_remove_the_section():
    s = load_scenario_text(PLAIN, overrides=["oversight.operators=2",
                                             "oversight.rules.retask.rule=approve"])
    assert s.oversight == OversightSpec(operators=2, rules={"retask": RuleSpec(rule="approve")})
    assert s.locate("oversight.rules.retask.rule") == (
        "--set oversight.rules.retask.rule=approve", None)
    assert load_scenario_text(TEXT, overrides=["oversight=null"]).oversight is None


OVERRIDE_ERRORS = [
    pytest.param("oversight.rules.retsk=approve",
                 "--set oversight.rules.retsk=approve: oversight.rules.retsk: unknown action class "
                 "'retsk'; did you mean 'retask'? (action classes: takeoff, transit, survey, hold, "
                 "return, retask, pickup, deliver, enter_restricted, leave_mission_area, continue_lost_link, "
                 "classify_detection, emergency_landing, stop)", id="unknown-action-class"),
    pytest.param("oversight.rules.takeoff.rule=notify",
                 "--set oversight.rules.takeoff.rule=notify: oversight.rules.takeoff.rule: cannot "
                 "set key 'rule': oversight.rules.takeoff is 'auto', not a mapping",
                 id="key-below-a-bare-rule"),
    pytest.param("oversight.rules.retask.service={dist: exponential}",
                 "--set oversight.rules.retask.service={dist: exponential}: "
                 "oversight.rules.retask.service: exponential service time: missing mean_s; "
                 "expected {dist: exponential, mean_s: M}", id="bad-distribution"),
    pytest.param("oversight.stops[1].vehicles=[3, 99]",
                 "--set oversight.stops[1].vehicles=[3, 99]: oversight.stops[1].vehicles[1]: "
                 "vehicle index 99 is out of range: the fleet has 8 vehicles (valid indexes 0..7)",
                 id="stop-vehicle-index"),
    pytest.param("oversight.rules.takeoff={rule: auto, service: 3}",
                 "--set oversight.rules.takeoff={rule: auto, service: 3}: "
                 "oversight.rules.takeoff.service: rule 'auto' gives the operators no work, so "
                 "takeoff takes no service time (leave service out, or choose rule notify, veto or "
                 "approve)", id="auto-with-service"),
]


@pytest.mark.parametrize(("override", "message"), OVERRIDE_ERRORS)
def test_override_errors(override, message):
    assert error_of(TEXT, (override,)) == message


def test_section_added_by_override_must_be_complete():
    assert error_of(PLAIN, ("oversight.span_of_control=4",)) == (
        "--set oversight.span_of_control=4: oversight: missing required key 'operators' "
        "(an integer >= 1 and <= 100000)")


# --------------------------------------------------------------------------------------
# Source round trip


def test_source_round_trips_through_json():
    s = load_scenario_text(TEXT, filename=FILE, base_dir="/data/scen")
    back = scenario_from_source(json.loads(json.dumps(s.source, allow_nan=False)))
    assert back == s
    assert back.oversight == s.oversight
    assert back.sites == s.sites and back.vehicle_types == s.vehicle_types
    for cls, rule in s.oversight.rules.items():
        assert back.oversight.rules[cls] == rule
        assert type(back.oversight.rules[cls].service) is type(rule.service)
    assert back.source == s.source


def test_source_form_of_the_section():
    o = load_scenario_text(TEXT).source["oversight"]
    assert o["rules"]["retask"]["service"] == {"dist": "exponential", "mean_s": 30.0}
    assert o["rules"]["enter_restricted"]["service"] == {"dist": "deterministic", "value_s": 20.0}
    assert o["rules"]["takeoff"]["service"] is None
    assert o["detection_review"]["service"] == {"dist": "lognormal", "mean_s": 20.0, "cv": 0.5}
    assert [x["vehicles"] for x in o["stops"]] == ["all", [0, 7]]
    assert o["shifts"][1] == {"start_s": 3600.0, "end_s": 7200.0, "count": 1}
    site = load_scenario_text(TEXT).source["world"]["sites"][1]
    assert (site["sensor_radius_m"], site["false_alarms_per_hour"]) == (500.0, 2.0)


def test_source_round_trip_of_defaults_and_of_no_section():
    for text in (PLAIN, PLAIN + "oversight: {operators: 1}\n",
                 PLAIN + "oversight: {operators: 2, detection_review: {}}\n"):
        s = load_scenario_text(text)
        back = scenario_from_source(json.loads(json.dumps(s.source, allow_nan=False)))
        assert back == s and back.oversight == s.oversight


def test_source_is_validated_like_a_file():
    source = json.loads(json.dumps(load_scenario_text(TEXT).source))
    source["oversight"]["rules"]["retask"]["service"] = {"dist": "exponential", "mean_s": -1}
    with pytest.raises(ScenarioError) as info:
        scenario_from_source(source, filename="run/manifest.json")
    assert str(info.value) == (
        "run/manifest.json: oversight.rules.retask.service.mean_s: exponential service time: "
        "mean_s must be > 0, got -1; expected {dist: exponential, mean_s: M}")


def test_stops_and_reviews_take_no_rule(tmp_path):
    import pytest as _pytest

    from fleetsim.errors import ScenarioError
    from fleetsim.scenario import load_scenario_text

    text = """
schema_version: 1
name: r
run: {duration_s: 10}
world: {sites: [{id: b, kind: base, position: [10, 10]}]}
fleet:
  types:
    - {id: q, kind: multirotor, count: 1, base: b, cruise_speed_mps: 10, climb_rate_mps: 2,
       battery_wh: 10, hover_power_w: 10, cruise_power_w: 10, recharge_time_s: 10,
       sensor: {footprint_radius_m: 10}}
policy: {name: random_search}
oversight:
  operators: 1
  rules: {stop: forbidden}
"""
    with _pytest.raises(ScenarioError, match="stop is not authorised by a rule"):
        load_scenario_text(text, filename="s.yaml")
