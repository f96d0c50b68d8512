"""What the exporter exports equals what the SDK's parsed answer says, scenario by scenario.

The exporter scrapes every scenario repository once; each family is compared with the field
the SDK parsed from the very same bytes (`sdk_client` keeps those answers):

| SDK field | exporter series |
|---|---|
| `can_statistics` | `codearts_repo_statistics_can_statistics` (1/0) |
| `reason` | `codearts_repo_statistics_reason` |
| `event.status` | label `status` of `..._event_info`, state set `..._event_status` (waiting/active/finish/other) |
| `event.branch`, `event.stat_date` | labels of `..._event_info` |
| `event.id` | `..._event_id` |
| `event.created_at`, `event.updated_at` | `..._event_created_timestamp_seconds`, `..._event_updated_timestamp_seconds` |
| an error the SDK raised | `..._error{class}` |
| last push `created_at` (with `last_push.enabled`) | `..._last_push_timestamp_seconds`, `..._lag_seconds`, `..._last_push_up` |

A field the SDK leaves `None` (or a time that does not parse) has no series.
"""

import time
from datetime import datetime

from harness import STATIC_TOKEN, Exporter, ExporterFailed, series

PREFIX = "codearts_repo_statistics_"
KNOWN_STATUSES = ("waiting", "active", "finish")


def seconds(text):
    """Unix seconds of an RFC 3339 time, or None."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo else None


def exporter_yaml(sim, ids, extra=""):
    repositories = "".join(f"  - id: {i}\n" for i in ids)
    return (f"codearts:\n  endpoint: {sim.endpoint}\n  auth:\n    token: {STATIC_TOKEN}\n"
            f"repositories:\n{repositories}scrape:\n  retries: 0\n  request_timeout: 5s\n{extra}")


class Comparison:
    def __init__(self, report, samples, scenario):
        self.report, self.samples = report, samples
        self.id, self.name = scenario["id"], scenario["name"]

    def value(self, family, expected):
        got = [value for _, value in series(self.samples, PREFIX + family, self.id)]
        if expected is None:
            return self.report.check(f"{self.name}: no {family} series", not got, f"got {got}")
        expected = float(expected)
        return self.report.check(f"{self.name}: {family} = {expected:g}",
                                 len(got) == 1 and abs(got[0] - expected) < 1e-3, f"got {got}")


def compare_status(report, samples, scenario, answer):
    c = Comparison(report, samples, scenario)
    if isinstance(answer, Exception) or scenario["kind"] == "invalid":
        classes = [labels.get("class") for labels, _ in series(samples, PREFIX + "error", c.id)]
        report.check(f"{c.name}: error class {scenario['class']}", classes == [scenario["class"]], f"got {classes}")
        if scenario["kind"] == "invalid":
            c.value("can_statistics", None)
        return
    c.value("can_statistics", None if answer.can_statistics is None else int(bool(answer.can_statistics)))
    c.value("reason", answer.reason if isinstance(answer.reason, int) else None)
    event = answer.event
    c.value("event_id", getattr(event, "id", None) if isinstance(getattr(event, "id", None), int) else None)
    c.value("event_created_timestamp_seconds", seconds(getattr(event, "created_at", None)))
    c.value("event_updated_timestamp_seconds", seconds(getattr(event, "updated_at", None)))
    status = getattr(event, "status", None)
    states = {labels.get("status"): value for labels, value in series(samples, PREFIX + "event_status", c.id)}
    if status is None:
        report.check(f"{c.name}: no event_status series", not states, f"got {states}")
    else:
        current = status if status in KNOWN_STATUSES else "other"
        want = {state: (1.0 if state == current else 0.0) for state in (*KNOWN_STATUSES, "other")}
        report.check(f"{c.name}: event_status is {current}", states == want, f"got {states}")
    info = series(samples, PREFIX + "event_info", c.id)
    if event is None:
        report.check(f"{c.name}: no event_info series", not info, f"got {info}")
        return
    fields = {"branch": event.branch, "status": event.status, "stat_date": event.stat_date}
    if all(value is None for value in fields.values()) and not info:
        report.check(f"{c.name}: no event_info labels to show", True)
        return
    got = {key: info[0][0].get(key, "") for key in fields} if len(info) == 1 else None
    want = {key: "" if value is None else str(value) for key, value in fields.items()}
    report.check(f"{c.name}: event_info labels {want}", got == want, f"got {got}")


def compare_push(report, samples, scenario, status, push):
    c = Comparison(report, samples, scenario)
    if isinstance(push, Exception):
        c.value("last_push_up", 0)
        c.value("last_push_timestamp_seconds", None)
        c.value("lag_seconds", None)
        return
    c.value("last_push_up", 1)
    pushed = seconds(push.created_at)
    future = pushed is not None and pushed > time.time() + 300
    if not future:
        c.value("last_push_timestamp_seconds", pushed)
    updated = None if isinstance(status, Exception) else seconds(getattr(status.event, "updated_at", None))
    if pushed is None or updated is None or future:
        c.value("lag_seconds", None)
    else:
        c.value("lag_seconds", max(0.0, pushed - updated))


def run(report, ctx):
    sim = ctx.scenario_sim
    ids = [s["id"] for s in ctx.scenarios]

    report.section("exported series equal the SDK's parsed answers")
    try:
        exporter = Exporter(ctx.bin_dir, exporter_yaml(sim, ids), ctx.workdir)
    except ExporterFailed as error:
        report.check("the exporter starts with the scenario repositories", False, str(error))
        return
    try:
        samples = exporter.scrape()
    finally:
        exporter.stop()
    for scenario in ctx.scenarios:
        compare_status(report, samples, scenario, ctx.sdk_statuses[scenario["id"]])

    report.section("exported last pushes equal the SDK's parsed answers (last_push.enabled)")
    try:
        exporter = Exporter(ctx.bin_dir, exporter_yaml(sim, ids, "last_push:\n  enabled: true\n"), ctx.workdir)
    except ExporterFailed as error:
        report.check("the exporter accepts last_push.enabled", False, str(error))
        return
    try:
        samples = exporter.scrape()
        # Last pushes may fill the budget after the statistics: a second scrape sees them.
        samples = exporter.scrape()
    finally:
        exporter.stop()
    for scenario in ctx.scenarios:
        compare_push(report, samples, scenario, ctx.sdk_statuses[scenario["id"]], ctx.sdk_pushes[scenario["id"]])
