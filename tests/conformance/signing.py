"""The exporter's requests, re-signed with the SDK's `Signer`.

The exporter runs against the simulator with request recording on. For every request it sent
with an `SDK-HMAC-SHA256` signature, an `SdkRequest` is rebuilt with the same method, host,
path, query and exactly the headers the exporter listed in `SignedHeaders` (its `X-Sdk-Date`
included), signed with `huaweicloudsdkcore.signer.signer.Signer`, and the two `Authorization`
values must be identical. Variants: static AK/SK, temporary AK/SK with `security_token_file`,
each with and without `project_id`, all with discovery on (a query string).
"""

import os
from urllib.parse import parse_qsl

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from harness import ACCESS_KEY, SECRET_KEY, Exporter, ExporterFailed


def parse_authorization(value):
    algorithm, _, rest = value.partition(" ")
    fields = dict(part.split("=", 1) for part in rest.split(", ") if "=" in part)
    return algorithm, fields


def resign(request, access_key, secret_key):
    """The SDK's Authorization for a recorded request, over the headers it claims to sign."""
    headers = dict(request["headers"])
    _, fields = parse_authorization(headers["authorization"])
    signed = fields.get("SignedHeaders", "").split(";")
    missing = [name for name in signed if name not in headers]
    if missing:
        return None, f"SignedHeaders names headers it did not send: {missing}"
    sdk_request = SdkRequest(
        method=request["method"],
        schema="http",
        host=headers.get("host"),
        resource_path=request["path"],
        query_params=parse_qsl(request["query"], keep_blank_values=True),
        header_params={name: headers[name] for name in signed},
        body=(request["body"] or "").encode(),
    )
    Signer(BasicCredentials(access_key, secret_key)).sign(sdk_request)
    return sdk_request.header_params["Authorization"], None


def tampered_is_caught(request, access_key, secret_key):
    """The comparison is not vacuous: the same request with another path signs differently."""
    moved = dict(request, path=request["path"] + "x")
    expected, _ = resign(moved, access_key, secret_key)
    return expected != dict(request["headers"])["authorization"]


def route_of(path):
    if path.endswith("/statistics-status"):
        return "statistics-status"
    if path.endswith("/last-push-event"):
        return "last-push-event"
    return path


def exporter_yaml(sim, files, project_id, ids):
    auth = (f"    aksk:\n      access_key_file: {files['ak']}\n      secret_key_file: {files['sk']}\n")
    if "token" in files:
        auth += f"      security_token_file: {files['token']}\n"
    if project_id:
        auth += f"      project_id: {project_id}\n"
    repositories = "".join(f"  - id: {i}\n" for i in ids)
    return (f"codearts:\n  endpoint: {sim.endpoint}\n  auth:\n{auth}repositories:\n{repositories}"
            "discovery:\n  enabled: true\n  interval: 1h\nrefresh:\n  mode: on_change\n"
            "scrape:\n  retries: 0\n")


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    return path


def run(report, ctx):
    report.section("the exporter's requests re-signed with the SDK's Signer")
    sim = ctx.scenario_sim
    ids = [s["id"] for s in ctx.scenarios if s["kind"] == "ok"][:3]
    static = {"ak": write(ctx.workdir, "ak", ACCESS_KEY), "sk": write(ctx.workdir, "sk", SECRET_KEY)}
    temporary_keys = (ctx.temporary.access, ctx.temporary.secret)
    temporary = {
        "ak": write(ctx.workdir, "tmp-ak", ctx.temporary.access),
        "sk": write(ctx.workdir, "tmp-sk", ctx.temporary.secret),
        "token": write(ctx.workdir, "tmp-token", ctx.temporary.security_token),
    }
    variants = [
        ("static AK/SK", static, None, (ACCESS_KEY, SECRET_KEY)),
        ("static AK/SK + project_id", static, ctx.project_id, (ACCESS_KEY, SECRET_KEY)),
        ("temporary AK/SK (security_token_file)", temporary, None, temporary_keys),
        ("temporary AK/SK + project_id", temporary, ctx.project_id, temporary_keys),
    ]
    for label, files, project_id, (access_key, secret_key) in variants:
        sim.forget_recorded()
        try:
            exporter = Exporter(ctx.bin_dir, exporter_yaml(sim, files, project_id, ids), ctx.workdir)
        except ExporterFailed as error:
            report.check(f"{label}: the exporter accepts the config", False, str(error))
            continue
        try:
            exporter.scrape()
        finally:
            exporter.stop()
        requests = [r for r in sim.recorded() if "authorization" in dict(r["headers"])]
        routes = sorted({route_of(r["path"]) for r in requests})
        report.check(f"{label}: the exporter signed its requests", bool(requests), "none recorded")
        queries = [r for r in requests if r["query"]]
        report.check(f"{label}: discovery sent a signed query string", bool(queries),
                     f"routes {routes}")
        report.check(f"{label}: the look for changes sent order_by=updated_at&sort=desc",
                     any({"order_by=updated_at", "sort=desc"} <= set(r["query"].split("&")) for r in queries),
                     str([r["query"] for r in queries][:3]))
        if requests:
            report.check(f"{label}: re-signing tells a tampered request apart",
                         tampered_is_caught(requests[0], access_key, secret_key),
                         "a request with a changed path re-signed to the same Authorization")
        for route in routes:
            mismatches = []
            for request in (r for r in requests if route_of(r["path"]) == route):
                expected, problem = resign(request, access_key, secret_key)
                actual = dict(request["headers"])["authorization"]
                if problem or expected != actual:
                    _, fields = parse_authorization(actual)
                    mismatches.append(problem or f"{request['method']} {request['path']}?{request['query']} "
                                                 f"SignedHeaders={fields.get('SignedHeaders')}")
            report.check(f"{label}: {route} signed exactly as the SDK signs it", not mismatches,
                         "; ".join(mismatches[:2]))
        headers = [dict(r["headers"]) for r in requests]
        if "token" in files:
            report.check(f"{label}: X-Security-Token sent and signed",
                         all(h.get("x-security-token") == ctx.temporary.security_token
                             and "x-security-token" in parse_authorization(h["authorization"])[1]
                             .get("SignedHeaders", "").split(";") for h in headers))
        if project_id:
            report.check(f"{label}: X-Project-Id sent and signed",
                         all(h.get("x-project-id") == project_id
                             and "x-project-id" in parse_authorization(h["authorization"])[1]
                             .get("SignedHeaders", "").split(";") for h in headers))
