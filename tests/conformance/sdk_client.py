"""The official SDK's own client against the simulator.

`CodeArtsRepoClient` signs every request itself (static AK/SK; temporary AK/SK with the security
token it got from the simulator's metadata service; with a project id; and with a region, so that
it looks the project id up through the simulator's `GET /v3/projects`). The simulator refuses a
signature it cannot recompute, so an accepted call proves the simulator checks signatures as the
SDK makes them. Every answer must deserialise into the SDK's models with no key the model lacks
and no value of another type (`attribute_map`, `openapi_types`); scenarios that are ill-typed on
purpose (`lenient`) must instead be ill-typed, and come out of the SDK converted to the model's
types.
"""

import importlib
import json
import logging
import warnings

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.auth.internal import MetadataAccessor
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkcodeartsrepo.v4 import (
    CodeArtsRepoClient,
    ListCurrentUserRepositoriesRequest,
    ShowLastPushEventInRepositoryRequest,
    ShowRepositoryStatisticsStatusRequest,
)

from harness import ACCESS_KEY, REGION, SECRET_KEY, STATIC_TOKEN, Exporter, http, series

MODELS = importlib.import_module("huaweicloudsdkcodeartsrepo.v4.model")
_PRIMITIVES = {"int": int, "str": str, "bool": bool, "float": (int, float)}


def point_metadata_at(endpoint):
    """The SDK's `MetadataAccessor` has 169.254.169.254 built in: aim it at the simulator."""
    MetadataAccessor._METADATA_ENDPOINT = endpoint


def type_problems(value, type_name, path="$"):
    """Where raw JSON `value` differs from the SDK model type `type_name`: keys the model lacks,
    values of another JSON type. `None` (null) fits every type."""
    if value is None:
        return []
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, the model has {type_name}"]
        problems = []
        for i, item in enumerate(value):
            problems += type_problems(item, type_name[5:-1], f"{path}[{i}]")
        return problems
    if type_name in _PRIMITIVES:
        fits = isinstance(value, _PRIMITIVES[type_name]) and not (type_name != "bool" and isinstance(value, bool))
        return [] if fits else [f"{path}: {json.dumps(value)}, the model has {type_name}"]
    klass = getattr(MODELS, type_name)
    if not isinstance(value, dict):
        return [f"{path}: {type(value).__name__}, the model has {type_name}"]
    by_key = {key: attr for attr, key in klass.attribute_map.items()}
    problems = []
    for key, item in value.items():
        if key not in by_key:
            problems.append(f"{path}.{key}: not a field of {type_name}")
        else:
            problems += type_problems(item, klass.openapi_types[by_key[key]], f"{path}.{key}")
    return problems


def parsed_problems(obj, type_name, path="$"):
    """Where an SDK-parsed model object holds a value not of its declared type."""
    if obj is None:
        return []
    if type_name.startswith("list["):
        problems = []
        for i, item in enumerate(obj if isinstance(obj, list) else [obj]):
            problems += parsed_problems(item, type_name[5:-1], f"{path}[{i}]")
        return problems
    if type_name in _PRIMITIVES:
        fits = isinstance(obj, _PRIMITIVES[type_name]) and not (type_name != "bool" and isinstance(obj, bool))
        return [] if fits else [f"{path}: {obj!r} is not {type_name}"]
    klass = getattr(MODELS, type_name)
    if not isinstance(obj, klass):
        return [f"{path}: {type(obj).__name__} is not {type_name}"]
    problems = []
    for attr, attr_type in klass.openapi_types.items():
        if klass.attribute_map[attr] in ("body",) or attr.startswith("x_"):
            continue
        problems += parsed_problems(getattr(obj, attr), attr_type, f"{path}.{attr}")
    return problems


def make_client(endpoint, credentials, region=None):
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    builder = CodeArtsRepoClient.new_builder().with_credentials(credentials).with_http_config(config)
    if region:
        builder = builder.with_region(Region(REGION, endpoint))
    else:
        builder = builder.with_endpoint(endpoint)
    client = builder.build()
    # The SDK logs each 429 it does not retry; the checks say what matters.
    client._logger.addHandler(logging.NullHandler())
    return client


def call(fn, request):
    """The SDK's answer, or its exception for an error answer."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(request)
    except (ClientRequestException, ServerResponseException) as error:
        return error


def sdk_error_class(error):
    """The error class an HTTP error the SDK raised belongs to, from the SDK's own reading."""
    code = str(error.error_code)
    if error.status_code == 429 or code in ("APIG.0308", "APIGW.0308"):
        return "throttled"
    return {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
        error.status_code,
        "client_error" if error.status_code < 500 else "server_error",
    )


def expected_sdk_error_code(raw):
    """The error code the SDK's exception_handler must find in a JSON error body, or None."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    def find(node):
        if not isinstance(node, dict):
            return None
        for code, message in (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")):
            if code in node and message in node:
                return node[code]
        for value in node.values():
            found = find(value)
            if found is not None:
                return found
        return None
    return find(body)


class SdkRun:
    """One credential variant of the SDK client, calling every scenario."""

    def __init__(self, report, sim, label, credentials, region=False):
        self.report, self.sim, self.label = report, sim, label
        self.credentials = credentials
        self.client = make_client(sim.endpoint, credentials, region)

    def statuses(self, scenarios):
        return {
            s["id"]: call(self.client.show_repository_statistics_status,
                          ShowRepositoryStatisticsStatusRequest(repository_id=s["id"]))
            for s in scenarios
        }

    def last_pushes(self, scenarios):
        return {
            s["id"]: call(self.client.show_last_push_event_in_repository,
                          ShowLastPushEventInRepositoryRequest(repository_id=s["id"]))
            for s in scenarios
        }

    def list_page(self, **query):
        return call(self.client.list_current_user_repositories, ListCurrentUserRepositoriesRequest(**query))


def check_status_answers(report, label, scenarios, answers, sim):
    """Every statistics-status answer as the SDK read it: shapes, lenient conversion, errors."""
    for scenario in scenarios:
        name, answer = f"{label}: statistics-status {scenario['name']}", answers[scenario["id"]]
        if scenario["kind"] == "error":
            if not report.check(f"{name} raises the SDK's error", isinstance(answer, Exception),
                                f"got {type(answer).__name__}"):
                continue
            report.check(f"{name} error class {scenario['class']}", sdk_error_class(answer) == scenario["class"],
                         f"status {answer.status_code}, error_code {answer.error_code!r}")
            _, _, raw = http("GET", f"{sim.endpoint}/v4/repositories/{scenario['id']}/repository/statistics-status",
                             {"X-Auth-Token": STATIC_TOKEN})
            # A 429 never reaches the SDK's body parser: urllib3 stops at the status (retry_times 0).
            expected = str(answer.status_code) if answer.status_code == 429 else expected_sdk_error_code(raw)
            if expected is None:
                expected = str(answer.status_code)
            report.check(f"{name} error_code {expected!r} as exception_handler.py finds it",
                         answer.error_code == expected, f"SDK read {answer.error_code!r}")
            continue
        if isinstance(answer, Exception):
            report.check(f"{name} answers", False, f"{answer.status_code} {answer.error_code} {answer.error_msg}")
            continue
        raw = answer.raw_content.decode()
        if scenario["kind"] == "invalid":
            empty = all(getattr(answer, attr) is None for attr in ("can_statistics", "reason", "event"))
            report.check(f"{name} leaves every field None", empty, raw[:200])
            continue
        check_shape(report, name, raw, "ShowRepositoryStatisticsStatusResponse", answer, scenario["lenient"])
        report.check(f"{name} X-Total header", answer.x_total == "1", repr(answer.x_total))


def check_shape(report, name, raw, model, parsed, lenient):
    problems = type_problems(json.loads(raw), model)
    if lenient:
        report.check(f"{name} is ill-typed on purpose", bool(problems), "no field differs from the model")
        converted = parsed_problems(parsed, model)
        report.check(f"{name} comes out of the SDK converted", not converted, "; ".join(converted))
    else:
        report.check(f"{name} fits {model}", not problems, "; ".join(problems[:5]))


def check_push_answers(report, label, scenarios, answers):
    for scenario in scenarios:
        name, answer = f"{label}: last-push {scenario['name']}", answers[scenario["id"]]
        if scenario["push"] == "fails":
            report.check(f"{name} raises the SDK's error", isinstance(answer, Exception), type(answer).__name__)
            continue
        if isinstance(answer, Exception):
            report.check(f"{name} answers", False, f"{answer.status_code} {answer.error_code}")
            continue
        check_shape(report, name, answer.raw_content.decode(), "ShowLastPushEventInRepositoryResponse", answer, False)
        if scenario["push"] == "never":
            report.check(f"{name} has no created_at", answer.created_at is None, repr(answer.created_at))
        else:
            report.check(f"{name} has created_at", isinstance(answer.created_at, str), repr(answer.created_at))


def _same(a, b):
    """Two SDK answers agree: the same model contents, or the same error."""
    if isinstance(a, Exception) or isinstance(b, Exception):
        return (type(a), getattr(a, "status_code", None), str(getattr(a, "error_code", None))) == (
            type(b), getattr(b, "status_code", None), str(getattr(b, "error_code", None)))
    return a.to_dict() == b.to_dict()


def _sdk_requests(sim):
    """The AK/SK-signed requests recorded since the last reset (only the SDK signs between two
    resets; the suite's own look-ups use a token), header names in lower case."""
    recorded = [dict(r, headers=dict(r["headers"])) for r in sim.recorded()]
    return [r for r in recorded if "authorization" in r["headers"]]


def _signed_headers(request):
    authorization = request["headers"].get("authorization", "")
    for part in authorization.split(", "):
        if part.startswith("SignedHeaders="):
            return part[len("SignedHeaders="):].split(";")
    return []


def run(report, ctx):
    sim = ctx.scenario_sim
    scenarios = sim.scenarios()
    ctx.scenarios = scenarios
    point_metadata_at(sim.endpoint)

    report.section("the SDK's client against the simulator: static AK/SK")
    sim.forget_recorded()
    static = SdkRun(report, sim, "static AK/SK", BasicCredentials(ACCESS_KEY, SECRET_KEY))
    ctx.sdk_statuses = static.statuses(scenarios)
    ctx.sdk_pushes = static.last_pushes(scenarios)
    check_status_answers(report, "static AK/SK", scenarios, ctx.sdk_statuses, sim)
    check_push_answers(report, "static AK/SK", scenarios, ctx.sdk_pushes)
    made = _sdk_requests(sim)
    report.check("static AK/SK: the simulator recorded every SDK request",
                 len(made) == 2 * len(scenarios), f"{len(made)} of {2 * len(scenarios)}")
    report.check("static AK/SK: the SDK signs host and x-sdk-date, no security token or project",
                 all({"host", "x-sdk-date"} <= set(_signed_headers(r))
                     and "x-security-token" not in r["headers"] and "x-project-id" not in r["headers"]
                     for r in made))

    def same_answers(label, run):
        statuses, pushes = run.statuses(scenarios), run.last_pushes(scenarios)
        differing = [s["name"] for s in scenarios
                     if not _same(statuses[s["id"]], ctx.sdk_statuses[s["id"]])
                     or not _same(pushes[s["id"]], ctx.sdk_pushes[s["id"]])]
        report.check(f"{label}: every scenario answers as with static AK/SK", not differing,
                     "differs: " + ", ".join(differing))

    report.section("the SDK's client: project id looked up through IAM GET /v3/projects")
    expected = sim.get_json(f"/v3/projects?name={REGION}", {"X-Auth-Token": "demo-token"})["projects"]
    expected = expected[0]["id"] if expected else None
    sim.forget_recorded()
    credentials = BasicCredentials(ACCESS_KEY, SECRET_KEY).with_iam_endpoint(sim.endpoint)
    try:
        regional = SdkRun(report, sim, "region", credentials, region=True)
    except Exception as error:  # the SDK raises SdkException when the lookup fails
        report.check("region: the SDK finds the project id of cn-north-4", False, repr(error))
        regional = None
    if regional:
        report.check("region: the SDK finds the project id of cn-north-4",
                     credentials.project_id == expected and expected is not None,
                     f"{credentials.project_id} vs {expected}")
        lookups = [r for r in _sdk_requests(sim) if r["path"] == "/v3/projects"]
        report.check("region: the lookup is one signed GET /v3/projects?name=cn-north-4",
                     len(lookups) == 1 and lookups[0]["query"] == f"name={REGION}"
                     and "x-sdk-date" in _signed_headers(lookups[0]),
                     f"{[(r['path'], r['query']) for r in lookups]}")
        same_answers("region", regional)
        codearts = [r for r in _sdk_requests(sim) if r["path"].startswith("/v4/")]
        report.check("region: every CodeArts request carries and signs X-Project-Id",
                     bool(codearts) and all(r["headers"].get("x-project-id") == expected
                                            and "x-project-id" in _signed_headers(r) for r in codearts))
    ctx.project_id = expected

    report.section("the SDK's client: explicit project id")
    same_answers("project_id", SdkRun(report, sim, "project_id",
                                      BasicCredentials(ACCESS_KEY, SECRET_KEY, expected)))
    bogus = SdkRun(report, sim, "unknown project", BasicCredentials(ACCESS_KEY, SECRET_KEY, "f" * 32))
    refused = bogus.statuses(scenarios[:1])[scenarios[0]["id"]]
    report.check("unknown project id: the simulator refuses it with 401",
                 isinstance(refused, Exception) and refused.status_code == 401,
                 getattr(refused, "status_code", type(refused).__name__))

    report.section("the SDK's client: temporary AK/SK from the metadata service")
    sim.forget_recorded()
    credential = MetadataAccessor().get_credential()
    report.secret(credential.access, credential.secret, credential.security_token)
    ctx.temporary = credential
    import time
    report.check("metadata: the SDK reads the credential and its expires_at",
                 bool(credential.access and credential.secret and credential.security_token)
                 and credential.expire_at > time.time() + 60, f"expires at {credential.expire_at}")
    steps = [(r["method"], r["path"]) for r in sim.recorded()]
    report.check("metadata: session token first, then the security key (MetadataAccessor's order)",
                 steps == [("PUT", "/meta-data/latest/api/token"), ("GET", "/openstack/latest/securitykey")],
                 str(steps))
    sim.forget_recorded()
    temporary = BasicCredentials(credential.access, credential.secret).with_security_token(credential.security_token)
    same_answers("security token", SdkRun(report, sim, "security token", temporary))
    made = [r for r in _sdk_requests(sim) if r["path"].startswith("/v4/")]
    report.check("security token: every request sends and signs X-Security-Token",
                 bool(made) and all(r["headers"].get("x-security-token") == credential.security_token
                                    and "x-security-token" in _signed_headers(r) for r in made))

    sim.forget_recorded()
    own = BasicCredentials(project_id=expected)
    same_answers("SDK's own metadata flow", SdkRun(report, sim, "metadata flow", own))
    report.check("SDK's own metadata flow: it asked the simulator's metadata service",
                 any(r["path"] == "/openstack/latest/securitykey" for r in sim.recorded()))

    report.section("the SDK's client: GET /v4/user/repositories (demo catalog)")
    check_lists(report, ctx.varied_sim)

    report.section("the SDK's client: the list's change times (a simulator with activity)")
    check_change_times(report, ctx)


def _full_path(entry):
    """namespace/path, and the path of http_url_to_repo without .git: both must agree."""
    from urllib.parse import urlparse
    built = f"{entry.namespace}/{entry.path}"
    from_url = urlparse(entry.http_url_to_repo).path.lstrip("/").removesuffix(".git")
    return built, from_url


def _unix(text):
    """An API time as Unix seconds (RFC 3339 with an offset), or None."""
    from datetime import datetime
    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return None


def check_change_times(report, ctx):
    """What change-driven refresh relies on: the SDK sends order_by=updated_at&sort=desc, reads
    last_repository_updated_at and last_activity_at, and the exporter takes a repository's last push
    from the same field the SDK parsed."""
    import time
    sim = ctx.active_sim
    time.sleep(3)  # a few pushes
    sim.forget_recorded()
    run = SdkRun(report, sim, "change times", BasicCredentials(ACCESS_KEY, SECRET_KEY))
    entries, offset, problems = [], 0, []
    while True:
        page = run.list_page(offset=offset, limit=100, order_by="updated_at", sort="desc")
        if isinstance(page, Exception):
            report.check("change times: a page answers", False, f"{page.status_code} {page.error_code}")
            return
        problems += type_problems(json.loads(page.raw_content), "list[RepositorySimplestDto]")
        if not page.body:
            break
        entries += page.body
        offset += len(page.body)
    queries = [r["query"] for r in _sdk_requests(sim) if r["path"] == "/v4/user/repositories"]
    report.check("change times: the SDK sends order_by=updated_at and sort=desc",
                 bool(queries) and all("order_by=updated_at" in q.split("&") and "sort=desc" in q.split("&")
                                       for q in queries), str(queries[:2]))
    report.check("change times: every entry fits RepositorySimplestDto", not problems, "; ".join(problems[:5]))
    updated = [_unix(e.last_repository_updated_at) for e in entries]
    active = [_unix(e.last_activity_at) for e in entries]
    report.check("change times: the SDK reads last_repository_updated_at and last_activity_at as times",
                 len(entries) == 300 and None not in updated and None not in active,
                 f"{len(entries)} entries, {updated.count(None)} + {active.count(None)} unreadable")
    if None in updated or None in active:
        return
    newest = [max(u, a) for u, a in zip(updated, active)]
    report.check("change times: the most recently updated come first",
                 newest == sorted(newest, reverse=True))
    runs = sim.get_json("/-/activity")
    last_push = {}
    for record in runs:
        last_push[record["repository_id"]] = max(last_push.get(record["repository_id"], 0), record["pushed_at"])
    listed = {e.id: u for e, u in zip(entries, updated)}
    moved = [i for i in last_push if i in listed]
    report.check("change times: a push moves the listed time to the second it happened",
                 bool(moved) and all(listed[i] == float(int(last_push[i])) for i in moved),
                 f"{len(moved)} pushed; e.g. {[(i, listed[i], last_push[i]) for i in moved[:2]]}")

    ids = [e.id for e in entries[:20]]
    yaml = (f"codearts:\n  endpoint: {sim.endpoint}\n  auth:\n    token: {STATIC_TOKEN}\n"
            "repositories:\n" + "".join(f"  - id: {i}\n" for i in ids)
            + "refresh:\n  mode: on_change\nlast_push:\n  enabled: true\n  source: listing\n"
            "scrape:\n  retries: 0\n")
    sim.forget_recorded()
    exporter = Exporter(ctx.bin_dir, yaml, ctx.workdir)
    try:
        samples = exporter.scrape()
    finally:
        exporter.stop()
    # The exporter listed again after the SDK: a repository pushed meanwhile may be newer.
    disagree = []
    for entry, at in zip(entries[:20], updated[:20]):
        shown = series(samples, "codearts_repo_statistics_last_push_timestamp_seconds", entry.id)
        if not shown or shown[0][1] < at:
            disagree.append((entry.id, at, shown))
    report.check("change times: the exporter's last push (source: listing) is the SDK's last_repository_updated_at",
                 not disagree, str(disagree[:2]))
    looks = [r["query"] for r in sim.recorded() if r["path"] == "/v4/user/repositories"]
    report.check("change times: the exporter's look at the list asks order_by=updated_at&sort=desc",
                 any("order_by=updated_at" in q.split("&") and "sort=desc" in q.split("&") for q in looks),
                 str(looks[:2]))


def check_lists(report, sim):
    run = SdkRun(report, sim, "list", BasicCredentials(ACCESS_KEY, SECRET_KEY))
    pages, offset, problems, entries = 0, 0, [], []
    while pages < 20:
        page = run.list_page(offset=offset, limit=100, order_by="created_at", sort="asc")
        if isinstance(page, Exception):
            report.check("list: a page answers", False, f"{page.status_code} {page.error_code}")
            return
        pages += 1
        problems += type_problems(json.loads(page.raw_content), "list[RepositorySimplestDto]")
        if not page.body:
            break
        entries += page.body
        offset += len(page.body)
    report.check("list: every entry fits RepositorySimplestDto (no top-level path_with_namespace)",
                 not problems, "; ".join(problems[:5]))
    ids = [e.id for e in entries]
    report.check("list: created_at ascending pages every unarchived repository once, in order",
                 ids == sorted(ids) and len(set(ids)) == len(ids) and len(ids) >= 40, f"{len(ids)} entries")
    report.check("list: none is archived by default", all(e.archived is False for e in entries))
    disagree = [p for p in map(_full_path, entries) if p[0] != p[1]]
    report.check("list: namespace/path is the clone URL's path", not disagree, str(disagree[:3]))
    report.check("list: some groups are nested", any(e.namespace.count("/") >= 1 for e in entries))
    report.check("list: some display names differ from their path", any(e.name != e.path for e in entries))
    report.check("list: some repositories are in deleted projects",
                 any(e.project_is_delete for e in entries))
    report.check("list: a fork names its parent's path_with_namespace",
                 any(e.forked_from_repository and e.forked_from_repository.path_with_namespace for e in entries))
    archived = run.list_page(archived=True, limit=100)
    report.check("list: archived=true lists only the archived",
                 not isinstance(archived, Exception) and archived.body and all(e.archived for e in archived.body))
    newest = run.list_page(limit=100, order_by="updated_at", sort="desc")
    activity = [e.last_activity_at for e in newest.body]
    report.check("list: order_by=updated_at&sort=desc", activity == sorted(activity, reverse=True))
    capped = run.list_page(limit=150)
    report.check("list: a limit above 100 is served as 100 at most",
                 not isinstance(capped, Exception) and len(capped.body) <= 100)
    search = run.list_page(search="payments/", limit=100)
    report.check("list: search", not isinstance(search, Exception)
                 and sorted(_full_path(e)[0] for e in search.body)
                 == ["payments/api", "payments/checkout-web", "payments/fraud/detection", "payments/ledger"],
                 str([_full_path(e)[0] for e in getattr(search, "body", [])]))
