#!/usr/bin/env python3
"""Offline checks for the EcoSphere Carbon SAM template (infra/template.yaml).

    python3 infra/check_template.py              # run all checks
    python3 infra/check_template.py --self-test  # prove the checks can fail

Checks (any failure -> exit status 1):
  a. translate the SAM template with samtranslator (offline: static managed
     policy map, local CodeUri replaced by a placeholder S3 URI, the same thing
     `sam validate` does) and run cfn-lint on the translated CloudFormation JSON
     (catches e.g. a bad !Ref inside a function's Environment, which plain
     cfn-lint on the SAM template can miss) and on the raw template.
     Errors and warnings fail; informational findings are printed only.
  b. `sam validate --lint` (the `sam` command must exist: missing sam FAILS).
  c. functions/<name>/ crates <-> AWS::Serverless::Function resources, both
     directions, via Metadata.BuildProperties.Binary (or the CodeUri basename).

The repository root is the parent of this script's directory.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
REGION = "ap-northeast-1"

# Placeholder code location used for translation only (sam validate does the same).
PLACEHOLDER_CODE_URI = "s3://ecosphere-check-placeholder/code.zip"

# Values for parameters without a default (translation and cfn-lint only).
SAMPLE_PARAMETERS = {
    "SenderAddress": "service@example.com",
    "ReviewerAddresses": "reviewer@example.com",
}

# Static AWS managed policy map: the translator would otherwise ask IAM (network,
# credentials) for policy ARNs when a template names managed policies.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for path, name in [
        ("service-role/", "AWSLambdaBasicExecutionRole"),
        ("service-role/", "AWSLambdaVPCAccessExecutionRole"),
        ("service-role/", "AWSLambdaDynamoDBExecutionRole"),
        ("service-role/", "AWSLambdaSQSQueueExecutionRole"),
        ("service-role/", "AWSLambdaRole"),
        ("", "AWSXrayWriteOnlyAccess"),
        ("", "AWSXRayDaemonWriteAccess"),
        ("", "AmazonDynamoDBReadOnlyAccess"),
        ("", "AmazonS3ReadOnlyAccess"),
        ("", "CloudWatchLambdaInsightsExecutionRolePolicy"),
    ]
}

SUBPROCESS_ENV = dict(os.environ)
SUBPROCESS_ENV.setdefault("AWS_DEFAULT_REGION", REGION)
SUBPROCESS_ENV.setdefault("AWS_REGION", SUBPROCESS_ENV["AWS_DEFAULT_REGION"])
SUBPROCESS_ENV["SAM_CLI_TELEMETRY"] = "0"
# The translator itself (in-process) reads the region for pseudo parameters.
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)

# `python -m cfnlint` does not work (cfn-lint 1.x ships no __main__), so run the
# console-script entry point with the current interpreter.
CFN_LINT = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]


class StaticManagedPolicyLoader:
    """Drop-in for samtranslator's ManagedPolicyLoader that needs no network."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


class Report:
    def __init__(self, quiet: bool = False, expect_failures: bool = False) -> None:
        self.failures: list[str] = []
        self.warnings: list[str] = []
        self.findings: list[str] = []  # cfn-lint error/warning lines
        self.quiet = quiet
        self.fail_label = "XFAIL" if expect_failures else "FAIL "

    def say(self, msg: str = "") -> None:
        if not self.quiet:
            print(msg, flush=True)

    def ok(self, msg: str) -> None:
        self.say(f"  OK    {msg}")

    def fail(self, msg: str) -> None:
        self.failures.append(msg)
        self.say(f"  {self.fail_label} {msg}")

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        self.say(f"  WARN  {msg}")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def load_template(path: Path) -> dict[str, Any]:
    # yaml_parse understands the CloudFormation short forms (!Ref, !GetAtt, !Sub, ...).
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text(encoding="utf-8"))


def serverless_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: res
        for name, res in (template.get("Resources") or {}).items()
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function"
    }


def is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """SAM -> CloudFormation, offline."""
    from samtranslator.translator.transform import transform

    tpl = copy.deepcopy(template)
    # Like `sam validate`: local code paths are replaced by an S3 placeholder.
    globals_fn = (tpl.get("Globals") or {}).get("Function") or {}
    if is_local_path(globals_fn.get("CodeUri")):
        globals_fn["CodeUri"] = PLACEHOLDER_CODE_URI
    for res in serverless_functions(tpl).values():
        props = res.setdefault("Properties", {})
        if is_local_path(props.get("CodeUri")) or ("CodeUri" not in props and "InlineCode" not in props
                                                    and "ImageUri" not in props and "CodeUri" not in globals_fn):
            props["CodeUri"] = PLACEHOLDER_CODE_URI
    for res in (tpl.get("Resources") or {}).values():
        if res.get("Type") == "AWS::Serverless::LayerVersion":
            props = res.setdefault("Properties", {})
            if is_local_path(props.get("ContentUri")):
                props["ContentUri"] = PLACEHOLDER_CODE_URI
    return transform(tpl, dict(SAMPLE_PARAMETERS), StaticManagedPolicyLoader())


def run_cfn_lint(path: Path, label: str, report: Report) -> list[str]:
    """Run cfn-lint; returns the error/warning lines (empty = clean)."""
    cmd = [*CFN_LINT, "--format", "parseable", "--regions", REGION, "--include-checks", "I", "--", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    # parseable format: file:line:col:endline:endcol:RULE:message
    def rule_of(line: str) -> str:
        parts = line.split(":")
        return parts[5] if len(parts) > 6 else "?"

    bad = [ln for ln in lines if rule_of(ln)[:1] in ("E", "W") or rule_of(ln) == "?"]
    report.findings.extend(f"{label}: {ln}" for ln in bad)
    info = [ln for ln in lines if ln not in bad]
    # rc bitmask: 2 = error, 4 = warning, 8 = informational, 1 = crash / usage
    if proc.returncode & ~8 and not bad:
        bad = [f"cfn-lint exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}"]
    for ln in info:
        report.say(f"        info: {ln}")
    if bad:
        for ln in bad:
            report.say(f"        {ln}")
        report.fail(f"cfn-lint ({label}): {len(bad)} error/warning finding(s)")
    else:
        report.ok(f"cfn-lint ({label}): no errors or warnings ({len(info)} informational)")
    if proc.stderr.strip() and proc.returncode & 1:
        report.say(proc.stderr.strip())
    return bad


# --------------------------------------------------------------------------- #
# a. translation + cfn-lint
# --------------------------------------------------------------------------- #
def check_lint(template_path: Path, report: Report) -> bool:
    """Returns True if the translated template lints clean."""
    report.say(f"[a] SAM translation + cfn-lint: {template_path}")
    try:
        template = load_template(template_path)
    except Exception as exc:  # noqa: BLE001 - report any parse error
        report.fail(f"cannot parse {template_path}: {exc}")
        return False
    try:
        translated = translate(template)
    except Exception as exc:  # noqa: BLE001 - InvalidDocumentException and friends
        causes = getattr(exc, "causes", None) or []
        detail = "; ".join(str(c) for c in causes) or str(exc)
        report.fail(f"samtranslator rejected the template: {detail}")
        return False
    n_res = len(translated.get("Resources", {}))
    report.ok(f"samtranslator: translated to {n_res} CloudFormation resources")

    translated_ok = True
    with tempfile.TemporaryDirectory(prefix="ecosphere-cfn-") as tmp:
        out = Path(tmp) / "translated.json"
        out.write_text(json.dumps(translated, indent=2, sort_keys=True), encoding="utf-8")
        if run_cfn_lint(out, "translated CloudFormation", report):
            translated_ok = False
    run_cfn_lint(template_path, "raw SAM template", report)
    return translated_ok


# --------------------------------------------------------------------------- #
# b. sam validate --lint
# --------------------------------------------------------------------------- #
def find_sam() -> str | None:
    found = shutil.which("sam")
    if found:
        return found
    # the venv's bin dir may not be on PATH when the venv python is called directly
    sibling = Path(sys.executable).parent / "sam"
    return str(sibling) if sibling.exists() else None


def check_sam_validate(template_path: Path, report: Report) -> None:
    report.say("[b] sam validate --lint")
    sam = find_sam()
    if not sam:
        report.fail("`sam` (aws-sam-cli) not found on PATH or next to this python; install aws-sam-cli")
        return
    cmd = [sam, "validate", "--lint", "--template-file", str(template_path), "--region", REGION]
    report.say(f"        $ {' '.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV, cwd=REPO_ROOT, check=False)
    for ln in (proc.stdout + proc.stderr).strip().splitlines():
        report.say(f"        {ln}")
    if proc.returncode == 0:
        report.ok("sam validate --lint")
    else:
        report.fail(f"sam validate --lint exited {proc.returncode}")


# --------------------------------------------------------------------------- #
# c. crates <-> function resources
# --------------------------------------------------------------------------- #
def crate_bin_names(crate_dir: Path) -> set[str]:
    manifest = tomllib.loads((crate_dir / "Cargo.toml").read_text(encoding="utf-8"))
    pkg = (manifest.get("package") or {}).get("name")
    bins = {b["name"] for b in manifest.get("bin", []) if isinstance(b, dict) and "name" in b}
    if pkg and (crate_dir / "src" / "main.rs").exists() and manifest.get("package", {}).get("autobins", True):
        bins.add(pkg)
    bins |= {p.stem for p in (crate_dir / "src" / "bin").glob("*.rs")} if (crate_dir / "src" / "bin").is_dir() else set()
    return bins


def check_crates(template_path: Path, repo_root: Path, report: Report) -> None:
    report.say(f"[c] functions/<name> crates <-> AWS::Serverless::Function resources ({repo_root})")
    template = load_template(template_path)
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    functions_dir = repo_root / "functions"
    crates = sorted(p.name for p in functions_dir.iterdir() if (p / "Cargo.toml").is_file()) if functions_dir.is_dir() else []

    by_binary: dict[str, list[str]] = {}
    for logical_id, res in sorted(serverless_functions(template).items()):
        props = res.get("Properties") or {}
        meta = res.get("Metadata") or {}
        code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        if not binary and isinstance(code_uri, str):
            binary = Path(code_uri).name
        if not isinstance(binary, str) or not binary:
            report.fail(f"{logical_id}: cannot tell which crate it builds (no BuildProperties.Binary / CodeUri)")
            continue
        by_binary.setdefault(binary, []).append(logical_id)
        if meta.get("BuildMethod") != "rust-cargolambda":
            report.fail(f"{logical_id}: Metadata.BuildMethod is {meta.get('BuildMethod')!r}, expected 'rust-cargolambda'")
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            code_dir = (template_path.parent / code_uri).resolve()
            if not (code_dir / "Cargo.toml").is_file():
                report.fail(f"{logical_id}: CodeUri {code_uri!r} -> {code_dir} has no Cargo.toml")

    for binary, ids in sorted(by_binary.items()):
        crate_dir = functions_dir / binary
        if binary not in crates:
            report.fail(f"{', '.join(ids)} -> functions/{binary}: no such crate (functions/{binary}/Cargo.toml missing)")
            continue
        if len(ids) > 1:
            report.fail(f"functions/{binary} is built by {len(ids)} function resources: {', '.join(ids)}")
            continue
        bins = crate_bin_names(crate_dir)
        if binary not in bins:
            report.fail(f"{ids[0]} -> functions/{binary}: crate has no binary target named {binary!r} (has {sorted(bins)})")
            continue
        report.ok(f"{ids[0]:<28} <-> functions/{binary} (binary {binary!r})")

    for crate in crates:
        if crate not in by_binary:
            report.fail(f"functions/{crate}: crate has no AWS::Serverless::Function resource in {template_path.name}")

    # `sam build` runs `cargo lambda build --bin <Binary>` in CodeUri. At a
    # non-virtual workspace root cargo only selects the root package, so the
    # function crates must be default members or the build fails with
    # "no bin target named `<Binary>` in default-run packages".
    root_manifest = repo_root / "Cargo.toml"
    if root_manifest.is_file():
        manifest = tomllib.loads(root_manifest.read_text(encoding="utf-8"))
        workspace = manifest.get("workspace") or {}
        if "package" in manifest:
            default_members = {str(Path(m)) for m in workspace.get("default-members", [])}
            missing = [c for c in sorted(by_binary) if c in crates and f"functions/{c}" not in default_members]
            if missing:
                report.fail(
                    "root Cargo.toml has a [package] but [workspace] default-members does not list "
                    + ", ".join(f'"functions/{c}"' for c in missing)
                    + ": `sam build` (cargo lambda build --bin <name> at the workspace root) will fail with "
                    "'no bin target named ... in default-run packages'. Fix: default-members = "
                    + json.dumps(["."] + [f"functions/{c}" for c in sorted(by_binary) if c in crates])
                )
    report.say(f"        crates: {crates}; function resources: "
               + json.dumps({b: ids for b, ids in sorted(by_binary.items())}))


# --------------------------------------------------------------------------- #
# samconfig.toml sanity (cheap; the real consumers are sam build / sam deploy)
# --------------------------------------------------------------------------- #
def check_samconfig(repo_root: Path, report: Report) -> None:
    path = repo_root / "samconfig.toml"
    report.say(f"[+] {path.name}")
    if not path.is_file():
        report.fail(f"{path} is missing")
        return
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        report.fail(f"{path.name} is not valid TOML: {exc}")
        return
    default = cfg.get("default", {})
    params = lambda cmd: (default.get(cmd) or {}).get("parameters") or {}  # noqa: E731
    tpl = params("global").get("template_file")
    before = len(report.failures)
    if tpl != "infra/template.yaml" or not (repo_root / tpl).is_file():
        report.fail(f"[default.global.parameters] template_file is {tpl!r}, expected 'infra/template.yaml'")
    if params("build").get("beta_features") is not True:
        report.fail("[default.build.parameters] beta_features must be true (rust-cargolambda is a beta feature)")
    if params("deploy").get("template_file") != ".aws-sam/build/template.yaml":
        report.fail("[default.deploy.parameters] template_file must be '.aws-sam/build/template.yaml' "
                    "(otherwise sam deploy zips the raw CodeUri, i.e. the whole workspace)")
    if len(report.failures) == before:
        report.ok(f"{path.name}: template_file={tpl!r}, build beta_features, deploy uses the built template")


# --------------------------------------------------------------------------- #
# d. self-test
# --------------------------------------------------------------------------- #
def inject_bad_ref(text: str, logical_id: str) -> str:
    """Add `BROKEN_REF: !Ref DoesNotExist` to the function's Environment.Variables (YAML text)."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  {logical_id}:\n")
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("  ") and not lines[i].startswith("   ") and lines[i].strip()
                and not lines[i].lstrip().startswith("#")), len(lines))
    block = lines[start:end]
    entry = "          BROKEN_REF: !Ref DoesNotExist\n"
    if "        Variables:\n" in block and "      Environment:\n" in block:
        at = start + block.index("        Variables:\n") + 1
        lines.insert(at, entry)
    else:
        at = start + block.index("    Properties:\n") + 1
        lines[at:at] = ["      Environment:\n", "        Variables:\n", entry]
    return "".join(lines)


def self_test() -> int:
    print("[d] self-test: the checks must detect injected faults")
    problems: list[str] = []
    template = load_template(TEMPLATE)
    fn_ids = sorted(serverless_functions(template))
    if not fn_ids:
        print("  FAIL  template has no AWS::Serverless::Function to inject into")
        return 1
    victim = fn_ids[0]
    real_crates = sorted(p.name for p in (REPO_ROOT / "functions").iterdir() if (p / "Cargo.toml").is_file())

    with tempfile.TemporaryDirectory(prefix="ecosphere-selftest-") as tmp:
        root = Path(tmp)
        (root / "infra").mkdir()
        bad_tpl = root / "infra" / "template.yaml"
        shutil.copyfile(TEMPLATE, bad_tpl)
        for crate in real_crates:  # mirror the crate layout (manifests + main.rs only)
            src = REPO_ROOT / "functions" / crate
            dst = root / "functions" / crate
            (dst / "src").mkdir(parents=True)
            shutil.copyfile(src / "Cargo.toml", dst / "Cargo.toml")
            if (src / "src" / "main.rs").exists():
                (dst / "src" / "main.rs").write_text("fn main() {}\n", encoding="utf-8")
            if (src / "src" / "bin").is_dir():
                shutil.copytree(src / "src" / "bin", dst / "src" / "bin")
        shutil.copyfile(REPO_ROOT / "Cargo.toml", root / "Cargo.toml")

        # 0. sanity: the unmodified copy passes the crate check
        rep = Report(quiet=True)
        check_crates(bad_tpl, root, rep)
        if rep.failures:
            problems.append(f"unmodified copy unexpectedly fails the crate check: {rep.failures}")
        else:
            print("  OK    unmodified copy passes the crate check")

        # 1. bad !Ref in a function's Environment -> translated lint must report it
        bad_tpl.write_text(inject_bad_ref(bad_tpl.read_text(encoding="utf-8"), victim), encoding="utf-8")
        injected = load_template(bad_tpl)
        env = injected["Resources"][victim]["Properties"]["Environment"]["Variables"]
        assert env["BROKEN_REF"] == {"Ref": "DoesNotExist"}, env
        print(f"  ..    injected `BROKEN_REF: !Ref DoesNotExist` into {victim}.Properties.Environment")
        rep = Report(expect_failures=True)
        translated_ok = check_lint(bad_tpl, rep)
        hits = [f for f in rep.findings if f.startswith("translated") and "DoesNotExist" in f]
        if translated_ok or not hits:
            problems.append(f"translated cfn-lint did NOT report the bad !Ref DoesNotExist: {rep.failures}")
        else:
            print("  OK    translated-template cfn-lint reports the bad !Ref (expected XFAIL above)")
        bad_tpl.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")

        # 2. extra crate without a function resource -> crate check must fail
        ghost = root / "functions" / "ghost"
        (ghost / "src").mkdir(parents=True)
        (ghost / "Cargo.toml").write_text('[package]\nname = "ghost"\nversion = "0.1.0"\n', encoding="utf-8")
        (ghost / "src" / "main.rs").write_text("fn main() {}\n", encoding="utf-8")
        rep = Report(quiet=True)
        check_crates(bad_tpl, root, rep)
        if any("functions/ghost" in f for f in rep.failures):
            print(f"  OK    crate check fails for an extra crate: {[f for f in rep.failures if 'ghost' in f][0]}")
        else:
            problems.append(f"crate check did NOT fail for extra crate functions/ghost: {rep.failures}")
        shutil.rmtree(ghost)

        # 3. function resource whose crate is missing -> crate check must fail
        if real_crates:
            gone = root / "functions" / real_crates[0]
            shutil.rmtree(gone)
            rep = Report(quiet=True)
            check_crates(bad_tpl, root, rep)
            if any(f"functions/{real_crates[0]}" in f for f in rep.failures):
                print(f"  OK    crate check fails for a missing crate: {rep.failures[0]}")
            else:
                problems.append(f"crate check did NOT fail when functions/{real_crates[0]} is missing")

    for p in problems:
        print(f"  FAIL  {p}")
    print("self-test:", "FAILED" if problems else "passed (every injected fault was detected)")
    return 1 if problems else 0


# --------------------------------------------------------------------------- #
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--self-test", action="store_true", help="prove that the checks detect injected faults")
    args = parser.parse_args()
    if args.self_test:
        return self_test()

    print(f"template: {TEMPLATE}")
    report = Report()
    check_lint(TEMPLATE, report)
    check_sam_validate(TEMPLATE, report)
    check_crates(TEMPLATE, REPO_ROOT, report)
    check_samconfig(REPO_ROOT, report)
    print()
    if report.warnings:
        print(f"{len(report.warnings)} warning(s):")
        for w in report.warnings:
            print(f"  - {w}")
    if report.failures:
        print(f"FAILED: {len(report.failures)} check(s) failed:")
        for f in report.failures:
            print(f"  - {f}")
        return 1
    print("all template checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
