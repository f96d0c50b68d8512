"""Tables and bodies the exporter must hold exactly as the SDK does.

- `src/config/region.rs`: `CODEARTS_REGIONS` must equal the SDK's
  `CodeArtsRepoRegion.static_fields`, and `IAM_REGIONS` `huaweicloudsdkiam`'s
  `IamRegion.static_fields` (not the core's `auth/endpoint.py`, which lacks eu-west-101).
- The IAM password-token request body the exporter sends must equal the SDK model
  `KeystoneCreateUserTokenByPasswordRequestBody` for the same user, domain, password and project
  scope, as the SDK serialises it.
"""

import json
import os
import re

from huaweicloudsdkcodeartsrepo.v4.region.codeartsrepo_region import CodeArtsRepoRegion
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkiam.v3 import (
    AuthScope,
    AuthScopeProject,
    KeystoneCreateUserTokenByPasswordRequestBody,
    PwdAuth,
    PwdIdentity,
    PwdPassword,
    PwdPasswordUser,
    PwdPasswordUserDomain,
)
from huaweicloudsdkiam.v3.region.iam_region import IamRegion

from harness import IAM_DOMAIN, IAM_PASSWORD, IAM_USER, REGION, Exporter, ExporterFailed

_TABLE = r"pub\s+const\s+{name}\s*:\s*&\[\(&str,\s*&str\)\]\s*=\s*&\[(.*?)\];"
_PAIR = re.compile(r'\(\s*"([^"]*)"\s*,\s*"([^"]*)"\s*,?\s*\)')


def rust_table(source, name):
    """The (region, endpoint) pairs of `pub const NAME: &[(&str, &str)]`, or None."""
    match = re.search(_TABLE.format(name=name), source, re.S)
    return None if match is None else _PAIR.findall(match.group(1))


def sdk_table(region_class):
    return {region_id: region.endpoints[0] for region_id, region in region_class.static_fields.items()}


def check_regions(report, repo_root):
    path = os.path.join(repo_root, "src", "config", "region.rs")
    with open(path) as f:
        source = f.read()
    consts = re.findall(r"pub\s+const\s+([A-Z_]+)\s*:\s*&\[\(&str", source)
    for name, region_class in (("CODEARTS_REGIONS", CodeArtsRepoRegion), ("IAM_REGIONS", IamRegion)):
        pairs = rust_table(source, name)
        if pairs is None:
            report.check(f"region table {name} equals the SDK's {region_class.__name__}", False,
                         f"no `pub const {name}: &[(&str, &str)]` in src/config/region.rs (it has: {consts})")
            continue
        ours, theirs = dict(pairs), sdk_table(region_class)
        duplicates = len(pairs) != len(ours)
        differ = sorted(set(ours.items()) ^ set(theirs.items()))
        report.check(f"region table {name} equals the SDK's {region_class.__name__}",
                     not differ and not duplicates,
                     f"differs in {differ[:6]}" + (" (duplicate ids)" if duplicates else ""))


def sdk_token_body():
    body = KeystoneCreateUserTokenByPasswordRequestBody(
        auth=PwdAuth(
            identity=PwdIdentity(
                methods=["password"],
                password=PwdPassword(
                    user=PwdPasswordUser(
                        domain=PwdPasswordUserDomain(name=IAM_DOMAIN), name=IAM_USER, password=IAM_PASSWORD
                    )
                ),
            ),
            scope=AuthScope(project=AuthScopeProject(name=REGION)),
        )
    )
    return sanitize_for_serialization(body)


def check_iam_body(report, ctx):
    sim = ctx.scenario_sim
    sim.forget_recorded()
    ids = [s["id"] for s in ctx.scenarios if s["kind"] == "ok"][:1]
    yaml = (
        f"codearts:\n  endpoint: {sim.endpoint}\n  auth:\n    iam:\n      endpoint: {sim.endpoint}\n"
        f"      domain: {IAM_DOMAIN}\n      user: {IAM_USER}\n      password: {IAM_PASSWORD}\n"
        f"      project: {REGION}\nrepositories:\n" + "".join(f"  - id: {i}\n" for i in ids)
    )
    try:
        exporter = Exporter(ctx.bin_dir, yaml, ctx.workdir)
    except ExporterFailed as error:
        report.check("IAM token body: the exporter starts with iam auth", False, str(error))
        return
    try:
        exporter.scrape()
    finally:
        exporter.stop()
    posts = [r for r in sim.recorded() if r["method"] == "POST" and r["path"] == "/v3/auth/tokens"]
    if not report.check("IAM token body: the exporter asked for a token", bool(posts)):
        return
    try:
        sent = json.loads(posts[0]["body"] or "")
    except ValueError:
        sent = posts[0]["body"]
    report.check("IAM token body equals KeystoneCreateUserTokenByPasswordRequestBody serialised by the SDK",
                 sent == sdk_token_body(), f"sent {json.dumps(sent)}; SDK {json.dumps(sdk_token_body())}")


def run(report, ctx):
    report.section("tables and bodies the SDK defines")
    check_regions(report, ctx.repo_root)
    check_iam_body(report, ctx)
