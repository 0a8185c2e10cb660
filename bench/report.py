"""The results table: every figure of gridline beside its floor (or bare baseline, or target),
the goals of issue 10 checked in notes, and the host's other CPU use per phase."""

from __future__ import annotations

from typing import Any

from .burst import DELIVER_S
from .common import Results, Scale, pct
from .latency import KNEE_P99_MS
from .meters import BUSY_CORES, WATCHED
from .reconnect import BACK_WITHIN_S

FLOOR_SPREAD = 3.0  # a floor whose p99 is more than this times its p50 has stalls of its own


def dc09_rows(r: Results, d: dict[str, Any], http: dict[str, Any]) -> None:
    """DC-09 event -> tier-1 socket beside the HTTP press of the same run (goal: p99 <= 1.5x)."""
    r.add("dc09_latency_p50", d["p50"], "ms", http["p50"])
    r.add("dc09_latency_p99", d["p99"], "ms", http["p99"])
    r.add("dc09_delivered", d["delivered"], "alerts", d["sent"])
    r.add("dc09_not_acked", d["not_acked"], "events", 0)
    cpu_a = http["per_press"]["cpu_ms"].get("A")
    r.add("dc09_receiver_cpu_per_event", d["receiver_cpu_ms_per_event"], "ms", cpu_a)
    if http["p99"] and d["p99"] == d["p99"]:
        met = d["p99"] <= 1.5 * http["p99"]
        r.note(f"DC-09 p99 {'<=' if met else '>'} 1.5x the HTTP press's p99 in this run")


def latency_rows(r: Results, scale: Scale, d: dict[str, Any], f: dict[str, Any]) -> None:
    ds, fs = d["steady"], f["steady"]
    r.add("sockets_connected", d["sockets"], "sockets", scale.sockets)
    r.add("socket_open_rate", d["open_rate"], "sockets/s", f["open_rate"])
    r.add("socket_drops_during_load", d["drops"], "drops", f["drops"])
    r.add("alert_latency_p50", ds["p50"], "ms", fs["p50"])
    r.add("alert_latency_p99", ds["p99"], "ms", fs["p99"])
    r.add("alert_latency_max", ds["max"], "ms", fs["max"])
    r.add("alert_delivered", ds["delivered"], "alerts", ds["sent"])
    r.add("alert_answer_p99", pct(ds["response_ms"], 99), "ms", pct(fs["response_ms"], 99))
    spread = fs["p99"] / fs["p50"] if fs["p50"] else float("nan")
    r.add("floor_p99_over_p50", spread, "x", None)
    if not spread <= FLOOR_SPREAD:
        r.note(
            f"WARNING: the floor's p99 is {spread:.1f}x its p50 (> {FLOOR_SPREAD:g}): the "
            f"floor itself stalled (slowest presses (latency ms, answer ms, at s): "
            f"{fs['slowest']}; checkpoints meanwhile {fs['checkpoints']}), ratios mean little"
        )
    r.add("runner_loop_lag_max", ds["lag_ms"], "ms", fs["lag_ms"])
    r.add("db_checkpoints_during_steady", ds["checkpoints"], "checkpoints", fs["checkpoints"])

    cpu, fcpu = ds["per_press"]["cpu_ms"], fs["per_press"]["cpu_ms"]
    r.add("cpu_per_press_A", cpu["A"], "ms", fcpu["http"])
    r.add("cpu_per_press_B", cpu["B"], "ms", fcpu["ws"])
    r.add("cpu_per_press_dispatcher", cpu["dispatcher"], "ms", None)
    for key, unit in (
        ("db_commits", "commits"),
        ("redis_commands", "commands"),
        ("db_sessions", "sessions"),
    ):
        r.add(f"{key}_per_press", ds["per_press"][key], unit, fs["per_press"][key])
    dq, fq = d["quiet"]["per_heartbeat"], f["quiet"]["per_heartbeat"]
    r.add("cpu_per_heartbeat_A", dq["cpu_ms"]["A"], "ms", fq["cpu_ms"]["http"])
    r.add("db_commits_per_heartbeat", dq["db_commits"], "commits", fq["db_commits"])
    r.add("redis_commands_per_heartbeat", dq["redis_commands"], "commands", fq["redis_commands"])
    r.add(
        "heartbeats_answered", ds["heartbeats"]["answered"], "beats", fs["heartbeats"]["answered"]
    )
    bad = {k: v for k, v in ds["heartbeats"]["statuses"].items() if k != "200"}
    if bad:
        r.note(f"heartbeat answers other than 200 (whole run so far): {bad}")
    db, fdb = ds["db"], fs["db"]
    r.add("db_lock_wait_samples", db["lock_waits"], "samples", fdb["lock_waits"])
    r.add("db_connections_max", db["connections_max"], "conns", fdb["connections_max"])
    if db["waiting_on"]:
        r.note(f"statements waiting on locks (samples): {db['waiting_on']}")
    goal = ds["p99"] <= 3 * fs["p99"] and ds["p99"] <= 50
    r.note(
        f"goal press p99 <= 3x floor and <= 50 ms: {'met' if goal else 'NOT met'} "
        f"(p99 {ds['p99']:.1f} ms, floor {fs['p99']:.1f} ms, N={d['sockets']})"
    )
    if ds["statuses"].get("201", 0) != ds["sent"]:
        r.note(f"steady answers: {ds['statuses']}")


def floor_rows(r: Results, f: dict[str, Any]) -> None:
    """`--floor-only`: the floor's own figures, to check that it is steady."""
    fs = f["steady"]
    r.add("floor_sockets", f["sockets"], "sockets", None)
    r.add("floor_latency_p50", fs["p50"], "ms", None)
    r.add("floor_latency_p99", fs["p99"], "ms", None)
    r.add("floor_p99_over_p50", fs["p99"] / fs["p50"] if fs["p50"] else None, "x", FLOOR_SPREAD)
    r.add("floor_runner_loop_lag_max", fs["lag_ms"], "ms", None)
    r.add("floor_curve_knee", f["curve"]["knee"], "presses/s", None)
    if f["burst"] is not None:
        r.add("floor_burst_latency_p99", f["burst"]["p99"], "ms", None)
    r.note(f"floor's slowest presses (latency ms, answer ms, at s): {fs['slowest']}")


def curve_rows(r: Results, d: dict[str, Any], f: dict[str, Any]) -> None:
    floor = {p["rate"]: p for p in f["points"]}
    for p in d["points"]:
        fp = floor.get(p["rate"], {})
        r.add(f"curve_{p['rate']:g}_per_s_p50", p["p50"], "ms", fp.get("p50"))
        r.add(f"curve_{p['rate']:g}_per_s_p99", p["p99"], "ms", fp.get("p99"))
    r.add("curve_knee", d["knee"], "presses/s", f["knee"])
    r.note(
        "capacity curve (rate: p50/p99 ms, gridline | floor): "
        + "; ".join(
            f"{p['rate']:g}/s {p['p50']:.0f}/{p['p99']:.0f} | "
            f"{floor.get(p['rate'], {}).get('p50', float('nan')):.0f}/"
            f"{floor.get(p['rate'], {}).get('p99', float('nan')):.0f}"
            for p in d["points"]
        )
        + f"; knee {d['knee']:g}/s (target >= 40, p99 <= {KNEE_P99_MS:g} ms)"
    )


def burst_rows(r: Results, d: dict[str, Any], f: dict[str, Any]) -> None:
    def status(out: dict[str, Any], code: str) -> int:
        return int(out["statuses"].get(code, 0))

    def other(out: dict[str, Any]) -> int:
        return sum(v for k, v in out["statuses"].items() if k not in ("201", "503", "unanswered"))

    r.add("burst_answers_201", status(d, "201"), "answers", status(f, "201"))
    r.add("burst_answers_503", status(d, "503"), "answers", status(f, "503"))
    r.add("burst_answers_other", other(d), "answers", other(f))
    r.add("burst_unanswered_10s", status(d, "unanswered"), "requests", status(f, "unanswered"))
    r.add("burst_slowest_answer", d["answer_max_s"], "s", f["answer_max_s"])
    r.add("burst_committed", d["committed"], "presses", d["sent"])
    r.add(f"burst_delivered_in_{DELIVER_S:g}s", d["delivered_in_time"], "presses", d["sent"])
    r.add("burst_duplicate_alerts", d["duplicates"], "alerts", f["duplicates"])
    r.add("burst_duplicate_frames", d["duplicated"], "frames", f["duplicated"])
    r.add("burst_latency_p50", d["p50"], "ms", f["p50"])
    r.add("burst_latency_p99", d["p99"], "ms", f["p99"])
    r.add("burst_last_answer", d["last_answer_s"], "s", f["last_answer_s"])
    ok = (
        status(d, "unanswered") == 0
        and other(d) == 0
        and d["committed"] == d["sent"]
        and d["delivered_in_time"] == d["sent"]
        and d["duplicates"] == 0
    )
    r.note(
        f"goal burst answered, committed, delivered in {DELIVER_S:g} s, no duplicate: "
        f"{'met' if ok else 'NOT met'}"
    )


def reconnect_rows(r: Results, d: dict[str, Any]) -> None:
    r.add("reconnect_sockets", d["sockets"], "sockets", None)
    r.add("reconnect_all_back", d["back_s"], "s", BACK_WITHIN_S)
    r.add("reconnect_servers_killed", d["killed_s"], "s", None)
    r.add("reconnect_server_start", d["start_s"], "s", None)
    r.add("reconnect_servers_up", d["restarted_s"], "s", None)
    r.add("reconnect_phones_missing_events", d["phones_missing"], "phones", 0)
    r.add("reconnect_events_missing", d["events_missing"], "events", 0)
    r.add("reconnect_presses_delivered", d["presses"]["delivered"], "presses", d["presses"]["sent"])
    r.add("reconnect_resyncs", d["resyncs"], "frames", None)
    ok = d["back_s"] is not None and d["back_s"] <= BACK_WITHIN_S and d["phones_missing"] == 0
    r.note(
        f"goal every phone back within {BACK_WITHIN_S:g} s, none missing an event: "
        f"{'met' if ok else 'NOT met'}"
    )


def escalation_rows(r: Results, e: dict[str, Any]) -> None:
    late, bare = e["lateness"], e["bare"]
    r.add("escalation_lateness_p50", pct(late, 50), "ms", pct(bare, 50))
    r.add("escalation_lateness_p99", pct(late, 99), "ms", pct(bare, 99))
    r.add("escalation_lateness_max", max(late, default=None), "ms", max(bare, default=None))
    r.add("escalations_fired", e["fired"], "timers", e["due"])
    r.add("escalation_pending_timers", e["pending"], "timers", None)
    heard = e["heard_after_escalation"]
    r.add("escalation_heard_after_p50", pct(heard, 50), "ms", None)
    r.add("escalation_heard_after_p99", pct(heard, 99), "ms", None)
    r.add("escalation_heard_after_due_p99", pct(e["heard_after_due"], 99), "ms", None)
    r.add("escalations_heard", e["heard"], "alerts", e["due"])
    r.add("dispatcher_cpu_per_escalation", e["cpu_each_ms"], "ms", None)
    ok = pct(late, 99) <= 250 and pct(heard, 99) <= 100
    r.note(f"goal escalation p99 <= 250 ms and heard <= 100 ms after: {'met' if ok else 'NOT met'}")


def host_rows(r: Results) -> None:
    """Other people's CPU per phase: a busy phase's figures are not to be quoted."""
    busy = []
    for name, host in WATCHED:
        key = "host_other_cpu_" + "_".join(name.replace("/", "").split())
        r.add(key, host["other"], "cores", BUSY_CORES)
        if host["other"] > BUSY_CORES:
            busy.append(f"{name} {host['other']:.2f}")
    if busy:
        r.note(
            f"WARNING: the host was busy with other work (> {BUSY_CORES} cores) during: "
            + ", ".join(busy)
            + ". Do not quote this run."
        )
