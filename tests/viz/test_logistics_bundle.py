"""The replay bundle of a logistics run (viz/FORMAT.md): roads with their closing
times, the water mask, orders with their outcomes, event details, carriers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from replay_case import order_counts_from_events

from fleetsim.record import EVENT_KINDS
from fleetsim.replay import read_replay, write_replay
from fleetsim.replay.layers import ORDER_EVENT_KINDS, roads_layer, water_layer

NAN = math.nan


def test_roads_layer_holds_every_road_and_the_closed_one_with_its_time(logistics_bundle,
                                                                       logistics_run):
    entry = logistics_bundle.manifest["layers"]["roads"]
    assert (entry["count"], entry["closed"], entry["unmatched_closures"]) == (110, 1, 0)
    assert entry["file"] == "layers/roads.bin"
    r = logistics_bundle.layer_columns("roads")
    segs = np.column_stack([r["x0_m"], r["y0_m"], r["x1_m"], r["y1_m"]]).astype(float)
    # The 7 x 9 grid of 500 m over [0, 3000] x [0, 4000]: 6 x 9 + 7 x 8 roads, all of
    # the network (its recorded world has every road open).
    net = logistics_run.world.roads
    assert net.closed == []
    np.testing.assert_array_equal(segs, net.segments())
    closed = np.flatnonzero(np.isfinite(r["closed_s"]))
    assert segs[closed].tolist() == [[2000.0, 1000.0, 2500.0, 1000.0]]
    assert r["closed_s"][closed].tolist() == [100.0]
    ev = logistics_run.events_of("road_closed")
    assert ev["time_s"].tolist() == [100.0] and (ev["x_m"][0], ev["y_m"][0]) == (2250.0, 1000.0)
    assert r["closed_s"].dtype == np.dtype("<f8") and r["x0_m"].dtype == np.dtype("<f4")


def test_roads_layer_matches_closures_by_midpoint_also_on_a_closed_network(logistics_run):
    """A world whose network already holds the road closed (as the engine's copy does)
    gives the same rows, the closed road last; a closure matching no road is counted."""
    import copy
    import dataclasses

    net = copy.deepcopy(logistics_run.world.roads)
    net.close_near(2250.0, 1000.0)
    world = dataclasses.replace(logistics_run.world, roads=net)
    entry, cols = roads_layer(dataclasses.replace(logistics_run, world=world))
    assert (entry["count"], entry["closed"], entry["unmatched_closures"]) == (110, 1, 0)
    assert cols["closed_s"][-1] == 100.0 and np.isnan(cols["closed_s"][:-1]).all()
    assert [float(cols[k][-1]) for k in ("x0_m", "y0_m", "x1_m", "y1_m")] == [2000, 1000,
                                                                              2500, 1000]
    events = {k: v.copy() for k, v in logistics_run.events.items()}
    events["x_m"][events["kind"] == "road_closed"] = 2260.0
    entry, cols = roads_layer(dataclasses.replace(logistics_run, events=events))
    assert (entry["closed"], entry["unmatched_closures"]) == (0, 1)


def test_water_layer_is_a_small_mask_of_the_lattice(logistics_bundle, logistics_run):
    entry = logistics_bundle.manifest["layers"]["water"]
    # Lattice points at 250 m inside x in (3200, 4000): x = 3250, 3500, 3750; y = 250..3750.
    assert (entry["nodes"], entry["spacing_m"], entry["wet_cells"]) == (45, 250.0, 45)
    assert entry["edges"] == logistics_run.world.water.n_edges
    assert entry["grid"] == {"x0_m": 3125.0, "y0_m": 125.0, "cell_m": 250.0, "nx": 3, "ny": 15}
    assert logistics_bundle.layer_columns("water")["wet"].tolist() == [1] * 45
    # A large lattice is coarsened to at most max_cells a side.
    entry, cols = water_layer(logistics_run, max_cells=4)
    g = entry["grid"]
    assert (g["cell_m"], g["nx"], g["ny"]) == (1000.0, 1, 4) and cols["wet"].tolist() == [1] * 4


def test_orders_layer_has_each_order_and_its_outcome(logistics_bundle, logistics_run):
    entry = logistics_bundle.manifest["layers"]["orders"]
    assert {k: entry[k] for k in ("count", "outcomes", "reasons", "delivered", "failed")} == {
        "count": 6, "outcomes": ["open", "delivered", "failed"], "reasons": ["capacity"],
        "delivered": 4, "failed": 1}
    assert logistics_bundle.order_ids() == ["a", "h", "r", "p", "q", "o"]
    o = logistics_bundle.layer_columns("orders")
    sites = [s["id"] for s in logistics_bundle.layer("sites")]
    assert [sites[k] for k in o["origin"]] == ["depot", "depot", "depot", "port", "depot", "depot"]
    assert list(zip(o["dest_x_m"].tolist(), o["dest_y_m"].tolist(), strict=True)) == [
        (3000, 1000), (1000, 3500), (3000, 1600), (3600, 3500), (1500, 2000), (500, 3000)]
    assert o["weight_kg"].tolist() == [50, 5, 2, 20, 2, 1]
    assert o["created_s"].tolist() == [0, 0, 0, 50, 200, 600]
    outcome = [entry["outcomes"][k] for k in o["outcome"]]
    assert outcome == ["delivered", "failed", "delivered", "delivered", "delivered", "open"]
    q = 260.0 + 20.0 + math.hypot(500.0, 1000.0) / 15.0 + 30.0  # load, climb, fly, hand over
    np.testing.assert_allclose(o["outcome_s"], [450.0, 0.0, 570.0, 527.5, q, NAN], rtol=1e-12)
    # First pickup: the rider's order was loaded on the van at the depot at 120 s.
    np.testing.assert_array_equal(o["picked_s"], [60.0, NAN, 120.0, 110.0, 260.0, NAN])
    assert o["reason"].tolist() == [255, 0, 255, 255, 255, 255]
    ids = logistics_bundle.vehicles()["id"].tolist()
    types = [t["id"] for t in logistics_bundle.manifest["vehicle_types"]]
    vtype = logistics_bundle.vehicles()["type"]
    assert [types[vtype[v]] if v >= 0 else None for v in o["vehicle"]] == [
        "van", "quad", "rider", "boat", "quad", None]
    assert ids == [0, 1, 2, 3]
    # The same outcomes as the events say.
    for k, name in enumerate(("delivered", "order_failed")):
        ev = logistics_run.events_of(name)
        code = k + 1
        assert sorted(ev["target"].tolist()) == np.flatnonzero(o["outcome"] == code).tolist()
        assert ev["time_s"][np.argsort(ev["target"])].tolist() == \
            o["outcome_s"][o["outcome"] == code].tolist()


@pytest.mark.parametrize("t", [0.0, 49.9, 50.0, 384.0, 450.0, 527.5, 599.0, 600.0, 1200.0])
def test_order_counts_from_the_layer_equal_those_from_the_events(logistics_bundle,
                                                                 logistics_run, t):
    o = logistics_bundle.layer_columns("orders")
    done = o["outcome_s"] <= t  # NaN: never
    got = {"created": int(np.sum(o["created_s"] <= t)),
           "delivered": int(np.sum(done & (o["outcome"] == 1))),
           "failed": int(np.sum(done & (o["outcome"] == 2))),
           "pending": int(np.sum((o["created_s"] <= t) & ~done))}
    assert got == order_counts_from_events(logistics_run.events, t)


def test_vehicles_events_and_manifest_of_a_logistics_run(logistics_bundle, logistics_run):
    m = logistics_bundle.manifest
    assert [(t["id"], t["domain"]) for t in m["vehicle_types"]] == [
        ("van", "ground"), ("quad", "air"), ("boat", "sea"), ("rider", "air")]
    v = logistics_bundle.vehicles()
    assert v["carrier"].tolist() == [-1, -1, -1, 0]  # the rider rides on the van (index 0)
    assert v["payload_kg"].tolist() == [200, 3, 500, 3]
    assert [(s["id"], s["kind"]) for s in logistics_bundle.layer("sites")] == [
        ("depot", "depot"), ("port", "depot"), ("c1", "customer"), ("c2", "customer"),
        ("lp", "launch_point"), ("gs", "ground_station")]
    assert "docked" in m["leg_kinds"] and m["events"]["order_kinds"] == list(ORDER_EVENT_KINDS)
    ev = logistics_bundle.events()
    table = logistics_run.events
    keep = table["kind"] != "arrive"
    details = m["events"]["details"]
    assert details[0] == ""
    assert [details[c] for c in ev["detail"]] == table["detail"][keep].tolist()
    kinds = [EVENT_KINDS[k] for k in ev["kind"]]
    failed = kinds.index("order_failed")
    assert (details[ev["detail"][failed]], int(ev["target"][failed])) == ("capacity", 1)
    assert {"road_closed", "launch", "dock", "delivered", "pickup"} <= set(kinds)
    x0, y0, x1, y1 = m["world"]["bounds_m"]
    assert x0 <= 0 and y0 <= 0 and x1 >= 4000 and y1 >= 4000


def test_a_bundle_rebuilt_from_the_run_directory_has_the_same_logistics_layers(
        logistics_run_dir, logistics_bundle, tmp_path):
    """``fleetsim replay RUN_DIR`` rebuilds the world (every road open) and reads the
    orders table back: the layers come out byte for byte the same."""
    out = write_replay(logistics_run_dir, out=tmp_path / "again", chunk_s=300.0)
    again = read_replay(out)
    for name in ("roads", "water", "orders"):
        assert again.manifest["layers"][name] == logistics_bundle.manifest["layers"][name]
        path = again.manifest["layers"][name]["file"]
        assert (out / path).read_bytes() == (logistics_bundle.root / path).read_bytes()
    assert again.order_ids() == logistics_bundle.order_ids()
    assert again.manifest["events"] == logistics_bundle.manifest["events"]


def test_bundles_of_runs_without_logistics_have_no_such_layers(bundle):
    layers = bundle.manifest["layers"]
    assert not {"roads", "water", "orders"} & set(layers)
    assert bundle.layer_columns("roads") is None and bundle.order_ids() == []
    details = bundle.manifest["events"]["details"]
    assert details[0] == "" and "charge" in details  # charge_start's detail: how
    assert "carrier" in bundle.vehicles() and (bundle.vehicles()["carrier"] == -1).all()
