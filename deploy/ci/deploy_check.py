#!/usr/bin/env python3
"""The checks of deploy/ that need neither a Docker engine nor a cluster.

Run by scripts/deploy-check, which installs the tools first (helm, and a venv with
kubernetes-validate, check-jsonschema, hadolint and PyYAML) and passes their paths:

    deploy_check.py --helm PATH --check-jsonschema PATH --hadolint PATH --out DIR

What is checked, each as one named check (a line `ok` or `FAIL` each):
- the env contract: the names below are the ones the services read (docs/contract.md §7.4 plus the
  services' own), and each is still read by the Rust code;
- the stages (deploy/ci/stages.json, made from vault_core::pipeline::stages): the topics, groups,
  services and binaries that scripts/stack, scripts/demo, scripts/image-check, the Dockerfile,
  compose, the chart and the alerts name are the declared ones;
- Dockerfile (hadolint, plus: multi-stage, `cargo build --release --locked`, numeric non-root
  user, no HEALTHCHECK, no secret-looking ARG/ENV) and .dockerignore;
- deploy/docker-compose.yaml: the compose-spec schema, env names, required variables, the
  declared stages' groups and topic chain (docs/contract.md §1), health-gated start order;
- the Helm chart: `helm lint --strict` and `helm template` for the default values, every
  deploy/helm/examples/*.yaml and deploy/helm/tests/valid/*.yaml; the rendered manifests
  against the Kubernetes schemas (kubernetes-validate, strict) of the oldest and newest
  versions it knows; policy on every Deployment (restricted pod security, probes, grace
  period, resources, env names, passwords only from Secrets, topics; extraEnv, extraVolumes and
  extraVolumeMounts in every Deployment and Job); each NetworkPolicy lets in its component's
  `helm test` pod and no other component's pods; and every deploy/helm/tests/invalid/*.yaml
  must be REJECTED by helm with the expected message;
- the alerts: promtool check and test of files/alerts.yaml (deploy/ci/alerts_test.yaml), each
  runbook_url a heading of docs/operations.md, and the chart's own VaultMetricsAbsent (the
  enabled components in the release's namespace) rendered with a component disabled and
  promtool-tested (deploy/ci/alerts_chart_test.yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "streamvault"
COMPOSE = DEPLOY / "docker-compose.yaml"

# ---- the contract -------------------------------------------------------------------------------

# Every variable the services and the vault CLI read, as vault_core::pipeline::vars declares it:
# deploy/ci/variables.json is generated from the declarations (`vault config --json`;
# services/tests/config.rs fails when it is stale).
VARIABLES_JSON = DEPLOY / "ci" / "variables.json"
VARIABLES = json.loads(VARIABLES_JSON.read_text())["variables"]
# docs/contract.md §7.4: the variables of the original deployments.
CONTRACT_ENV = {v["name"] for v in VARIABLES if v["contract"]}
# What a deployment may set: the chart's config values and what the chart sets itself.
ALLOWED_ENV = {v["name"] for v in VARIABLES if v["deploy"] in ("values", "chart")}
SECRET_ENV = {v["name"] for v in VARIABLES if v["secret"]}
DEFAULTS = {v["name"]: v["default"] for v in VARIABLES}

# The stages of the pipeline as vault_core::pipeline::stages declares them (docs/contract.md §1):
# deploy/ci/stages.json is generated from the declarations (`vault config --stages`;
# services/tests/config.rs fails when it is stale).
STAGES_JSON = DEPLOY / "ci" / "stages.json"
_STAGES = json.loads(STAGES_JSON.read_text())
STAGES = _STAGES["stages"]
SERVICES = [s["service"] for s in STAGES]
STAGE_OF = {s["service"]: s for s in STAGES}
COMPONENTS = {s["key"]: s["service"] for s in STAGES}  # the chart's component keys
BINARIES = tuple(_STAGES["binaries"])  # the stages' and the vault CLI
TOPIC_CHAIN = {s["service"]: (s["source_topic"], s["destination_topic"]) for s in STAGES}
SOURCE_TOPIC = STAGES[0]["source_topic"]  # what `vault simulate` produces to
ALL_TOPICS = sorted(_STAGES["topics"])

REQUIRED_ENV = {
    binary: {v["name"] for v in VARIABLES if binary in v["required_by"]} for binary in SERVICES
}
READ_BY = {binary: {v["name"] for v in VARIABLES if binary in v["read_by"]} for binary in SERVICES}
SHUTDOWN_SECONDS = 10  # a service exits within 10 s of SIGTERM


class CheckFailed(Exception):
    pass


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def problems_to_failure(problems: list[str]) -> None:
    if problems:
        raise CheckFailed("\n".join(problems))


# ---- reporting ----------------------------------------------------------------------------------

class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def run(self, name: str, fn: Callable[[], str | None]) -> None:
        try:
            note = fn()
        except CheckFailed as e:
            self.failed.append(name)
            print(f"FAIL {name}")
            for line in str(e).splitlines():
                print(f"       {line}")
            return
        except Exception:  # a bug in a check is a failure too, with its trace
            self.failed.append(name)
            print(f"FAIL {name} (error in the check)")
            for line in traceback.format_exc().rstrip().splitlines()[-3:]:
                print(f"       {line}")
            return
        self.passed += 1
        print(f"ok   {name}" + (f" ({note})" if note else ""))


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kw)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---- env contract -------------------------------------------------------------------------------

def check_stages() -> str:
    declared = re.findall(r'\bservice: "([a-z0-9-]+)"', (ROOT / "vault-core/src/pipeline/stages.rs").read_text())
    require(declared == SERVICES,
            f"{rel(STAGES_JSON)} is not the declarations of vault-core/src/pipeline/stages.rs: "
            "run VAULT_BLESS=1 cargo test -p vault-services --test config")
    return " -> ".join(f"{s['source_topic']} -> {s['service']}" for s in STAGES) + \
        (f" -> {STAGES[-1]['destination_topic']}" if STAGES[-1]["destination_topic"] else "")


def not_read(binary: str, env: set[str]) -> list[str]:
    """The deployable variables in `env` that `binary` does not read (Redis ones, say)."""
    return sorted((env & ALLOWED_ENV) - READ_BY[binary])


def check_env_contract() -> str:
    require(CONTRACT_ENV <= ALLOWED_ENV, "contract names missing from the allowed list")
    declared = re.findall(r'var\(\s*"([A-Z0-9_]+)"', (ROOT / "vault-core/src/pipeline/vars.rs").read_text())
    listed = [v["name"] for v in VARIABLES]
    require(sorted(declared) == sorted(listed),
            f"{rel(VARIABLES_JSON)} is not the declarations of vault-core/src/pipeline/vars.rs: "
            "run VAULT_BLESS=1 cargo test -p vault-services --test config")
    return f"{len(listed)} declared variables, {len(ALLOWED_ENV)} deployable, {len(SECRET_ENV)} secrets"


# ---- Dockerfile ---------------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    out = []
    for line in logical:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def check_hadolint(hadolint: str) -> str:
    result = run([hadolint, "--no-color", "--config", str(DEPLOY / "ci" / "hadolint.yaml"),
                  "Dockerfile"])
    require(result.returncode == 0, (result.stdout + result.stderr).strip() or "hadolint failed")
    return "no findings at warning level (DL3008 ignored, see deploy/ci/hadolint.yaml)"


def check_dockerfile_rules() -> str:
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text())
    problems = []
    args = {}
    for word, rest in instructions:
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k.strip()] = v.strip()
    stages: list[list[tuple[str, str]]] = []
    for word, rest in instructions:
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, rest))
    froms = [s[0][1] for s in stages]
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), f) for f in froms]
    if len(stages) < 2:
        problems.append("not multi-stage")
    if not any(f.split()[0] == "rust:1-bookworm" for f in resolved):
        problems.append("no build stage FROM rust:1-bookworm")
    runtime = resolved[-1].split()[0] if resolved else ""
    if not (runtime.startswith("debian:bookworm-slim") or runtime.startswith("gcr.io/distroless/cc")):
        problems.append(f"runtime base {runtime!r} is neither debian:bookworm-slim nor distroless/cc")
    all_runs = " ".join(rest for word, rest in instructions if word == "RUN")
    if not re.search(r"cargo build --release --locked", all_runs):
        problems.append("no `cargo build --release --locked`")
    if not re.search(r"cargo chef cook --release --locked", all_runs):
        problems.append("no dependency-caching layer (`cargo chef cook --release --locked`)")
    final = stages[-1] if stages else []
    users = [rest for word, rest in final if word == "USER"]
    if not users:
        problems.append("the final stage sets no USER")
    else:
        uid = users[-1].split(":")[0]
        if not uid.isdigit() or int(uid) == 0:
            problems.append(f"USER {users[-1]} is not a numeric non-root user")
    if any(word == "HEALTHCHECK" for word, _ in instructions):
        problems.append("HEALTHCHECK present (Kubernetes probes do that)")
    if any(word == "ENTRYPOINT" for word, _ in final):
        problems.append("ENTRYPOINT in the runtime stage (the command selects the binary)")
    secretish = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)", re.I)
    for word, rest in instructions:
        if word in ("ARG", "ENV") and secretish.search(rest.split("=")[0]):
            problems.append(f"{word} {rest}: looks like a secret at build time")
    for word, rest in final:
        if word in ("COPY", "ADD") and "--from=" not in rest:
            problems.append(f"runtime stage copies from the build context: {word} {rest}")
    cmd = [rest for word, rest in final if word == "CMD"]
    copied = " ".join(rest for word, rest in instructions if word == "RUN")
    for binary in BINARIES:
        if binary not in copied:
            problems.append(f"binary {binary} is not put into the image")
    if not cmd:
        problems.append("no CMD")
    problems_to_failure(problems)
    return f"{len(stages)} stages, runtime {runtime}, USER {users[-1]}"


def check_dockerignore() -> str:
    lines = {l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
             if l.strip() and not l.startswith("#")}
    missing = [p for p in ("target/", ".stack/", ".git/") if p not in lines and p.rstrip("/") not in lines]
    require(not missing, "missing from .dockerignore: " + ", ".join(missing))
    return "target/, .stack/, .git/ kept out"


# ---- docker-compose -----------------------------------------------------------------------------

def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def vault_services(compose: dict) -> dict[str, dict]:
    """The services that run the vault image, by name."""
    vault_image = None
    for svc in compose["services"].values():
        if "build" in svc:
            vault_image = svc.get("image")
    return {name: svc for name, svc in compose["services"].items()
            if "build" in svc or (vault_image and svc.get("image") == vault_image)}


def compose_program(svc: dict) -> tuple[str, str]:
    """(binary, full command text) of a vault-image service."""
    command = svc.get("command") or []
    entrypoint = svc.get("entrypoint") or []
    if isinstance(command, str):
        command = [command]
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    words = list(entrypoint) + list(command)
    text = " ".join(words)
    if words and words[0] in BINARIES:
        return words[0], text
    if words[:2] == ["bash", "-c"] or words[:2] == ["sh", "-c"]:
        return "script", text
    return "", text


def compose_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def check_compose_schema(check_jsonschema: str) -> str:
    result = run([check_jsonschema, "--builtin-schema", "vendor.compose-spec", rel(COMPOSE)])
    require(result.returncode == 0, (result.stdout + result.stderr).strip())
    return "compose-spec (check-jsonschema, vendored schema)"


def check_compose_env() -> str:
    raw = COMPOSE.read_text()
    problems = []
    # Interpolation: every ${VAR} must carry a default, or the file depends on the caller's shell.
    for m in re.finditer(r"(?<!\$)\$\{([^}]*)\}", raw):
        if ":-" not in m.group(1) and "-" not in m.group(1):
            problems.append(f"${{{m.group(1)}}} has no default")
    for m in re.finditer(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)", raw):
        problems.append(f"${m.group(1)} is interpolated by compose (write $${m.group(1)})")
    compose = load_compose()
    services = vault_services(compose)
    require(services, "no service runs the vault image")
    programs = {}
    for name, svc in services.items():
        binary, text = compose_program(svc)
        env = compose_env(svc)
        unknown = sorted(set(env) - ALLOWED_ENV)
        if unknown:
            problems.append(f"{name}: env not read by the services: {', '.join(unknown)}")
        if binary in TOPIC_CHAIN:
            programs[binary] = name
            missing = sorted(REQUIRED_ENV[binary] - set(env))
            if missing:
                problems.append(f"{name}: missing {', '.join(missing)}")
            unread = not_read(binary, set(env))
            if unread:
                problems.append(f"{name}: variables {binary} does not read: {', '.join(unread)}")
            if env.get("KAFKA_CONSUMER_GROUP") != STAGE_OF[binary]["group"]:
                problems.append(f"{name}: KAFKA_CONSUMER_GROUP={env.get('KAFKA_CONSUMER_GROUP')} "
                                f"(declared: {STAGE_OF[binary]['group']})")
            source, destination = TOPIC_CHAIN[binary]
            if env.get("KAFKA_SOURCE_TOPIC") != source:
                problems.append(f"{name}: KAFKA_SOURCE_TOPIC={env.get('KAFKA_SOURCE_TOPIC')} (contract: {source})")
            if env.get("KAFKA_DESTINATION_TOPIC") != destination and destination:
                problems.append(f"{name}: KAFKA_DESTINATION_TOPIC={env.get('KAFKA_DESTINATION_TOPIC')} (contract: {destination})")
            if destination is None and "KAFKA_DESTINATION_TOPIC" in env:
                problems.append(f"{name}: the last stage has a KAFKA_DESTINATION_TOPIC")
            port = env.get("HTTP_PORT", "5000")
            test = " ".join(svc.get("healthcheck", {}).get("test", []))
            if f"/{port}" not in test or "/readyz" not in test:
                problems.append(f"{name}: health check does not ask /readyz on HTTP_PORT {port}")
        elif binary == "script":
            if not re.search(r"\bvault simulate\b", text):
                problems.append(f"{name}: a script that does not run `vault simulate`")
            else:
                programs["simulate"] = name
            if env.get("KAFKA_SOURCE_TOPIC", SOURCE_TOPIC) != SOURCE_TOPIC:
                problems.append(f"{name}: simulates into {env.get('KAFKA_SOURCE_TOPIC')}")
            watched = re.findall(r"--stage (\w+)=([\w-]+):", text)
            if watched and watched != list(COMPONENTS.items()):
                problems.append(f"{name}: watches {watched}, the stages are {list(COMPONENTS.items())}")
        else:
            problems.append(f"{name}: command {text!r} does not select one of {', '.join(BINARIES)}")
    for binary in TOPIC_CHAIN:
        if binary not in programs:
            problems.append(f"no service runs {binary}")
    if "simulate" not in programs:
        problems.append("no simulator (`vault simulate`)")
    problems_to_failure(problems)
    return (f"{len(services)} vault containers ({', '.join(sorted(services))}): "
            "env names, required variables, contract topic chain")


def check_compose_order() -> str:
    compose = load_compose()
    all_services = compose["services"]
    services = vault_services(compose)
    problems = []
    completed = set()
    for name, svc in all_services.items():
        image = svc.get("image", "")
        if "build" not in svc and (":" not in image or image.endswith(":latest")):
            problems.append(f"{name}: image {image!r} not pinned to a tag")
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for dep, spec in deps.items():
            condition = (spec or {}).get("condition")
            target = all_services.get(dep)
            if target is None:
                problems.append(f"{name}: depends on unknown service {dep}")
                continue
            if condition == "service_healthy" and "healthcheck" not in target:
                problems.append(f"{name}: waits for {dep} to be healthy, which has no healthcheck")
            elif condition == "service_completed_successfully":
                completed.add(dep)
                if target.get("restart", "no") != "no":
                    problems.append(f"{name}: {dep} is a one-shot but restarts")
            elif condition not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: depends on {dep} with condition {condition} (not health-gated)")
    # What each vault container must wait for.
    for name, svc in services.items():
        binary, _ = compose_program(svc)
        deps = svc.get("depends_on") or {}
        env = compose_env(svc)
        kafka_host = env.get("KAFKA_HOST")
        pg_host = env.get("PG_WAREHOUSE_HOST")
        redis_host = env.get("REDIS_HOST")
        topic_jobs = [d for d in deps if d in completed]
        if not topic_jobs:
            problems.append(f"{name}: does not wait for the topic creator")
        if binary in TOPIC_CHAIN and deps.get(pg_host, {}).get("condition") != "service_healthy":
            problems.append(f"{name}: does not wait for PostgreSQL ({pg_host}) to be healthy")
        if redis_host and deps.get(redis_host, {}).get("condition") != "service_healthy":
            problems.append(f"{name}: does not wait for Redis ({redis_host}) to be healthy")
        if kafka_host not in all_services:
            problems.append(f"{name}: KAFKA_HOST={kafka_host} is no service of the file")
    # The topic creator creates exactly the topics of docs/contract.md §1 and their dead-letter
    # topics.
    creators = [all_services[d] for d in completed if d not in services]
    created = set()
    for creator in creators:
        text = " ".join(creator.get("command") if isinstance(creator.get("command"), list)
                        else [creator.get("command") or ""])
        m = re.search(r"for topic in (.*?); do", text, re.S)
        if m:
            created |= set(m.group(1).replace("\\", " ").split())
    if sorted(created) != ALL_TOPICS:
        problems.append(f"topics created {sorted(created)}, the contract wants {ALL_TOPICS}")
    problems_to_failure(problems)
    return "depends_on health-gated; topic job creates " + ", ".join(ALL_TOPICS)


def check_compose_kafka_version() -> str:
    """compose runs the same Apache Kafka as scripts/stack (pinned in scripts/kafka/pom.xml)."""
    pom = (ROOT / "scripts" / "kafka" / "pom.xml").read_text()
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    require(m is not None, "scripts/kafka/pom.xml has no <kafka.version>")
    pinned = m.group(1).strip()
    problems = []
    for name, svc in load_compose()["services"].items():
        image = svc.get("image", "")
        if image.startswith("apache/kafka:") and image != f"apache/kafka:{pinned}":
            problems.append(f"{name}: image {image}, scripts/stack runs Kafka {pinned}")
    problems_to_failure(problems)
    return f"apache/kafka:{pinned}"


# ---- Helm ---------------------------------------------------------------------------------------

class Helm:
    def __init__(self, binary: str) -> None:
        self.binary = binary

    def lint(self, values: Path | None) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "lint", "--strict", rel(CHART)]
        if values:
            cmd += ["-f", rel(values)]
        return run(cmd)

    def template(self, values: Path | None, release: str = "streamvault",
                 extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        # The CRDs of the Prometheus Operator and KEDA, as a cluster that has them answers: the
        # chart renders those objects only where the API has them (.Capabilities guards).
        cmd = [self.binary, "template", release, rel(CHART), "--namespace", "vault", *extra,
               "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
               "--api-versions", "monitoring.coreos.com/v1/PrometheusRule",
               "--api-versions", "keda.sh/v1alpha1/ScaledObject",
               "--api-versions", "keda.sh/v1alpha1/TriggerAuthentication"]
        if values:
            cmd += ["-f", rel(values)]
        return run(cmd)


def values_files() -> list[tuple[str, Path | None]]:
    files: list[tuple[str, Path | None]] = [("default values", None)]
    for path in sorted((DEPLOY / "helm" / "examples").glob("*.yaml")):
        files.append((rel(path), path))
    for path in sorted((DEPLOY / "helm" / "tests" / "valid").glob("*.yaml")):
        files.append((rel(path), path))
    return files


def load_values(path: Path | None) -> dict:
    base = yaml.safe_load((CHART / "values.yaml").read_text())
    if path is None:
        return base
    return deep_merge(base, yaml.safe_load(path.read_text()) or {})


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return over


CRDS = DEPLOY / "ci" / "crds"


def strict(schema: Any) -> Any:
    """A CRD's structural schema, with unknown fields refused (the API server would prune them
    silently; kubectl --validate=strict reports them)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the strict JSON schema of every vendored CRD version."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def kube_versions() -> list[str]:
    """The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest known."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    m = re.match(r"\s*>=\s*v?(\d+)\.(\d+)", chart.get("kubeVersion", ""))
    require(m is not None, f"Chart.yaml kubeVersion {chart.get('kubeVersion')!r} is not '>=X.Y...'")
    oldest = f"{m.group(1)}.{m.group(2)}"
    known = [kv.major_minor(v) for v in kv.all_versions()]
    require(oldest in known, f"kubernetes-validate has no schemas for {oldest}")
    return [oldest, known[-1]]


def validate_k8s(docs: list[dict], label: str) -> str:
    problems = []
    versions = kube_versions()
    custom = crd_schemas()
    for doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        crd = custom.get((doc.get("apiVersion"), doc.get("kind")))
        if crd is not None:
            errors = sorted(jsonschema.Draft7Validator(crd).iter_errors(doc), key=lambda e: list(e.path))
            for e in errors:
                problems.append(f"{name} (CRD {doc.get('apiVersion')}): {'.'.join(map(str, e.path))}: {e.message}")
            continue
        group = doc.get("apiVersion", "").rpartition("/")[0]
        if "." in group and not group.endswith(".k8s.io"):  # a CRD's group, not Kubernetes' own
            problems.append(f"{name}: no vendored CRD for {doc.get('apiVersion')} (deploy/ci/crds)")
            continue
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                problems.append(f"{name} (Kubernetes {version}): {'.'.join(map(str, e.path))}: {e.message}")
            except kv.SchemaNotFoundError as e:
                problems.append(f"{name}: {e.message}")
    problems_to_failure(problems)
    kinds = sorted({d["kind"] for d in docs})
    return (f"{len(docs)} objects ({', '.join(kinds)}) valid against Kubernetes {' and '.join(versions)}"
            " and the vendored CRDs")


def env_map(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def pod_security_problems(pod: dict, c: dict, p: str) -> list[str]:
    """Pod Security Standard "restricted" (and a little more) for one pod and its container."""
    problems = []
    # restricted pod security
    psc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
    if not (psc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
        problems.append(f"{p} runAsNonRoot is not set")
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    if uid is not None and uid == 0:
        problems.append(f"{p} runAsUser 0")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{p} allowPrivilegeEscalation is not false")
    if "ALL" not in (sc.get("capabilities", {}).get("drop") or []) or sc.get("capabilities", {}).get("add"):
        problems.append(f"{p} capabilities: not drop ALL (or some added)")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{p} seccompProfile {seccomp}")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{p} readOnlyRootFilesystem is not true")
    if sc.get("privileged"):
        problems.append(f"{p} privileged")
    for v in pod.get("volumes", []):
        if "hostPath" in v:
            problems.append(f"{p} hostPath volume {v['name']}")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append(f"{p} shares a host namespace")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{p} mounts a service account token")
    return problems


def extras_problems(docs: list[dict], values: dict) -> list[str]:
    """extraEnv, extraVolumes and extraVolumeMounts are in every pod and container of the
    services' Deployments, the migration Job and the refresh CronJob, as given."""
    problems = []
    extra_env = values.get("extraEnv") or []
    extra_volumes = values.get("extraVolumes") or []
    extra_mounts = values.get("extraVolumeMounts") or []
    for d in (d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")):
        template = d["spec"]["jobTemplate"]["spec"]["template"] if d["kind"] == "CronJob" else d["spec"]["template"]
        pod = template["spec"]
        p = f"{d['kind']} {d['metadata']['name']}:"
        volumes = pod.get("volumes") or []
        problems += [f"{p} extraVolumes entry {v['name']} missing" for v in extra_volumes if v not in volumes]
        for c in pod["containers"]:
            env = c.get("env") or []
            mounts = c.get("volumeMounts") or []
            problems += [f"{p} {c['name']}: extraEnv {e['name']} missing" for e in extra_env if e not in env]
            problems += [f"{p} {c['name']}: extraVolumeMounts {m['mountPath']} missing"
                         for m in extra_mounts if m not in mounts]
    return problems


def check_deployment_policy(docs: list[dict], values: dict, label: str) -> str:
    problems = []
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    expected = {bin_ for key, bin_ in COMPONENTS.items() if values.get(key, {}).get("enabled", True)}
    seen = set()
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        p = f"{name}:"
        containers = pod["containers"]
        if len(containers) != 1:
            problems.append(f"{p} {len(containers)} containers")
        c = containers[0]
        args = (c.get("command") or []) + (c.get("args") or [])
        binary = args[0] if args else ""
        if binary not in TOPIC_CHAIN:
            problems.append(f"{p} runs {args} (not one of the services)")
            continue
        seen.add(binary)
        problems += pod_security_problems(pod, c, p)
        # probes, ports, shutdown
        ports = {pt["name"]: pt["containerPort"] for pt in c.get("ports", [])}
        env = env_map(c)
        http_port = env.get("HTTP_PORT", {}).get("value", "5000")
        if str(ports.get("http")) != http_port:
            problems.append(f"{p} HTTP_PORT {http_port} is not the http port {ports.get('http')}")
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            if get.get("path") != path or get.get("port") not in ("http", ports.get("http")):
                problems.append(f"{p} {probe} is not GET {path} on the http port")
        startup = c.get("startupProbe") or {}
        if startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3) < 60:
            problems.append(f"{p} startupProbe allows less than 60 s to start")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace <= SHUTDOWN_SECONDS:
            problems.append(f"{p} terminationGracePeriodSeconds {grace} <= the {SHUTDOWN_SECONDS} s shutdown")
        res = c.get("resources") or {}
        if not res.get("requests", {}).get("memory") or not res.get("requests", {}).get("cpu") \
                or not res.get("limits", {}).get("memory"):
            problems.append(f"{p} resources: requests cpu+memory and a memory limit are needed")
        image = c.get("image", "")
        if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
            problems.append(f"{p} image {image} has no pinned tag")
        # env: names, passwords only from Secrets, Redis only for stg, topics; extraEnv is the
        # operator's own (a proxy, TZ) and passes as it is
        extra = {e.get("name") for e in values.get("extraEnv") or []}
        unknown = sorted(set(env) - ALLOWED_ENV - extra)
        if unknown:
            problems.append(f"{p} env not read by the services: {', '.join(unknown)}")
        for var, e in env.items():
            if var in SECRET_ENV and ("value" in e or "secretKeyRef" not in (e.get("valueFrom") or {})):
                problems.append(f"{p} {var} is not taken from a Secret")
        if c.get("envFrom"):
            problems.append(f"{p} envFrom (names unchecked)")
        missing = sorted(REQUIRED_ENV[binary] - set(env))
        if missing:
            problems.append(f"{p} missing {', '.join(missing)}")
        unread = not_read(binary, set(env))
        if unread:
            problems.append(f"{p} variables {binary} does not read: {', '.join(unread)}")
        if "KAFKA_CONSUMER_USERNAME" in env and "KAFKA_CONSUMER_PASSWORD" not in env:
            problems.append(f"{p} SASL user without a password")
        source, destination = TOPIC_CHAIN[binary]
        if env.get("KAFKA_SOURCE_TOPIC", {}).get("value") != source:
            problems.append(f"{p} KAFKA_SOURCE_TOPIC is not {source}")
        got_destination = env.get("KAFKA_DESTINATION_TOPIC", {}).get("value")
        if got_destination != destination:
            problems.append(f"{p} KAFKA_DESTINATION_TOPIC {got_destination} (contract: {destination})")
        # CA files must be mounted where the variables point.
        mounts = [m["mountPath"].rstrip("/") + "/" for m in c.get("volumeMounts", [])]
        ca_vars = ["PG_WAREHOUSE_SSLROOTCERT"]
        if "KAFKA_CONSUMER_USERNAME" in env:
            ca_vars.append("KAFKA_CA_FILE")
        for var in ca_vars:
            path = env.get(var, {}).get("value") or DEFAULTS.get(var) or ""
            if path.startswith("/crt/") and not any(path.startswith(m) for m in mounts):
                problems.append(f"{p} {var}={path} but nothing is mounted there")
        # a Service in front of the http port
        svc = services.get(name)
        if not svc:
            problems.append(f"{p} no Service")
        metrics = values.get("metrics", {})
        annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
        if metrics.get("podAnnotations") and (annotations.get("prometheus.io/scrape") != "true"
                                             or annotations.get("prometheus.io/port") != http_port):
            problems.append(f"{p} Prometheus scrape annotations missing or on the wrong port")
    for job in (d for d in docs if d["kind"] in ("Job", "CronJob")):
        spec = job["spec"]["jobTemplate"]["spec"] if job["kind"] == "CronJob" else job["spec"]
        pod = spec["template"]["spec"]
        p = f"{job['metadata']['name']}:"
        for c in pod["containers"]:
            problems += pod_security_problems(pod, c, p)
            env = env_map(c)
            extra = {e.get("name") for e in values.get("extraEnv") or []}
            unknown = sorted(set(env) - ALLOWED_ENV - extra)
            if unknown:
                problems.append(f"{p} env not read by vault: {', '.join(unknown)}")
            for var, e in env.items():
                if var in SECRET_ENV and "secretKeyRef" not in (e.get("valueFrom") or {}):
                    problems.append(f"{p} {var} is not taken from a Secret")
            if not c.get("resources", {}).get("limits", {}).get("memory"):
                problems.append(f"{p} no memory limit")
    problems += extras_problems(docs, values)
    if seen != expected:
        problems.append(f"services deployed {sorted(seen)}, enabled {sorted(expected)}")
    problems_to_failure(problems)
    jobs = sum(1 for d in docs if d["kind"] == "Job")
    crons = sum(1 for d in docs if d["kind"] == "CronJob")
    return (f"{len(deployments)} Deployments{f', {jobs} Job' if jobs else ''}"
            f"{f', {crons} CronJob' if crons else ''}: restricted security, "
            "probes, grace, resources, env, topics")


def selects(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector with matchLabels only (what the chart writes) selects these labels."""
    if selector is None:
        return False
    require(not selector.get("matchExpressions"), f"matchExpressions not understood: {selector}")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def admits(policy: dict, labels: dict, port: str) -> bool:
    """A pod of the policy's own namespace with these labels may connect to `port` (the name of
    the container port) of the pods the policy selects."""
    for rule in policy["spec"].get("ingress") or []:
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            continue
        for peer in rule.get("from") or [{}]:
            if not peer:  # an empty peer: everything
                return True
            ns = peer.get("namespaceSelector")
            if ns is not None and ns != {}:  # other namespaces (by label), or not this one
                continue
            if selects(peer.get("podSelector") or {}, labels):
                return True
    return False


def check_network_policy(docs: list[dict]) -> str:
    """Each component's NetworkPolicy lets in its own `helm test` pod (templates/test-readyz.yaml)
    on the http port, and not the other components' pods."""
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    tests = [d for d in docs if d["kind"] == "Pod"
             and d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    problems = []
    for dep in deployments:
        name = dep["metadata"]["name"]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        mine = [p for p in policies if selects(p["spec"]["podSelector"], pod_labels)]
        if len(mine) != 1:
            problems.append(f"{name}: selected by {len(mine)} NetworkPolicies")
            continue
        policy = mine[0]
        own_tests = [t for t in tests
                     if re.search(rf"http://{re.escape(name)}:", " ".join(t["spec"]["containers"][0]["command"]))]
        if len(own_tests) != 1:
            problems.append(f"{name}: {len(own_tests)} helm test pods ask its Service")
        for test in own_tests:
            if not admits(policy, test["metadata"]["labels"], "http"):
                problems.append(f"{name}: its NetworkPolicy blocks its helm test pod {test['metadata']['name']}")
        for other in deployments:
            if other is not dep and admits(policy, other["spec"]["template"]["metadata"]["labels"], "http"):
                problems.append(f"{name}: its NetworkPolicy lets in the pods of {other['metadata']['name']}")
    # The warehouse tasks (the migration Job, the refresh CronJob's jobs): one policy each, no
    # ingress, egress to DNS and PostgreSQL only.
    tasks = [(d["metadata"]["name"], d["spec"]["template"]) for d in docs if d["kind"] == "Job"]
    tasks += [(d["metadata"]["name"], d["spec"]["jobTemplate"]["spec"]["template"])
              for d in docs if d["kind"] == "CronJob"]
    for name, template in tasks:
        labels = template["metadata"]["labels"]
        mine = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        if len(mine) != 1:
            problems.append(f"{name}: selected by {len(mine)} NetworkPolicies")
            continue
        spec = mine[0]["spec"]
        if spec.get("ingress") or "Ingress" not in spec.get("policyTypes", []):
            problems.append(f"{name}: its NetworkPolicy lets something in")
        rules = spec.get("egress") or []
        if any(not rule.get("ports") for rule in rules):
            problems.append(f"{name}: an egress rule of its NetworkPolicy has no port (everything goes out)")
        ports = {p["port"] for rule in rules for p in rule.get("ports") or []}
        env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0].get("env", [])}
        pg = {int(env.get("PG_WAREHOUSE_PORT") or 5432)}
        if ports != {53} | pg:
            problems.append(f"{name}: egress to ports {sorted(ports)}, not DNS and PostgreSQL {sorted(pg)} only")
    problems_to_failure(problems)
    return (f"{len(policies)} NetworkPolicies, each admitting its component's helm test pod only;"
            f" {len(tasks)} warehouse task(s) reaching DNS and PostgreSQL only")


def check_values_env_names(helm_values: list[tuple[str, Path | None]]) -> str:
    problems = []
    schema = json.loads((CHART / "values.schema.json").read_text())
    config_props = set(schema["definitions"]["config"]["properties"])
    extra = config_props - ALLOWED_ENV
    if extra:
        problems.append(f"values.schema.json config accepts unknown names: {sorted(extra)}")
    if config_props & SECRET_ENV:
        problems.append("values.schema.json config accepts passwords")
    if schema["definitions"]["config"].get("additionalProperties") is not False:
        problems.append("values.schema.json config allows additional properties")
    secret_keys = set(schema["properties"]["secretKeys"]["properties"])
    if secret_keys != SECRET_ENV:
        problems.append(f"secretKeys names {sorted(secret_keys)} are not the password variables")
    for label, path in helm_values:
        raw = yaml.safe_load((path or CHART / "values.yaml").read_text()) or {}
        blocks = [("config", raw.get("config") or {})]
        blocks += [(f"{k}.config", (raw.get(k) or {}).get("config") or {}) for k in ("stg", "dds", "cdm")]
        blocks += [("secretKeys", raw.get("secretKeys") or {})]
        for where, block in blocks:
            unknown = sorted(set(block) - ALLOWED_ENV)
            if unknown:
                problems.append(f"{label}: {where}: {', '.join(unknown)}")
    # Every name written in a template is an allowed one.
    for tpl in sorted((CHART / "templates").glob("*")):
        for m in re.finditer(r"\b((?:KAFKA|PG_WAREHOUSE|REDIS|HTTP|BATCH|RUST)_[A-Z_]+)\b", tpl.read_text()):
            if m.group(1) not in ALLOWED_ENV:
                problems.append(f"{rel(tpl)}: {m.group(1)}")
    problems_to_failure(problems)
    return "values.yaml, examples, schema and templates name only the services' variables"


def check_helm_default_topics() -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    problems = []
    for stage in STAGES:
        key = stage["key"]
        cfg = (values.get(key) or {}).get("config") or {}
        source, destination = stage["source_topic"], stage["destination_topic"]
        if cfg.get("KAFKA_SOURCE_TOPIC") != source or cfg.get("KAFKA_DESTINATION_TOPIC") != destination:
            problems.append(f"{key}: {cfg.get('KAFKA_SOURCE_TOPIC')} -> {cfg.get('KAFKA_DESTINATION_TOPIC')}"
                            f" (declared: {source} -> {destination})")
        if cfg.get("KAFKA_CONSUMER_GROUP") != stage["group"]:
            problems.append(f"{key}: consumer group {cfg.get('KAFKA_CONSUMER_GROUP')} (declared: {stage['group']})")
    problems_to_failure(problems)
    return " -> ".join(s["source_topic"] for s in STAGES)


def check_chart_components() -> str:
    """The chart's components (the `streamvault.components` helper, the component keys of
    values.yaml and values.schema.json) are the declared stages, and a service named in a
    template is a declared one."""
    problems = []
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    m = re.search(r'define "streamvault\.components" -}}\n(.*?)\n{{- end', helpers, re.S)
    require(m is not None, "no streamvault.components in _helpers.tpl")
    components = yaml.safe_load(m.group(1))
    if components != COMPONENTS:
        problems.append(f"streamvault.components is {components}, the stages are {COMPONENTS}")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    for key in COMPONENTS:
        if not isinstance(values.get(key), dict):
            problems.append(f"values.yaml has no component {key}")
        if key not in schema["properties"]:
            problems.append(f"values.schema.json has no component {key}")
    for tpl in sorted((CHART / "templates").glob("*")):
        for name in re.findall(r'"([a-z]+-service)"', tpl.read_text()):
            if name not in SERVICES:
                problems.append(f"{rel(tpl)}: {name} is no declared stage")
    problems_to_failure(problems)
    return ", ".join(f"{k}: {v}" for k, v in COMPONENTS.items())


def check_scripts() -> str:
    """What the bash scripts and the image files list of the stages is the declared stages:
    scripts/stack's topics and SCRAM users, the services scripts/demo and scripts/image-check
    start, the binaries image-check, the Dockerfile and Containerfile.runtime hold."""
    problems = []

    def expect(where: str, got: Any, want: Any) -> None:
        if got != want:
            problems.append(f"{where}: {got}, declared: {want}")

    stack = (ROOT / "scripts" / "stack").read_text()
    m = re.search(r"^TOPICS=\((.*?)\)", stack, re.M)
    require(m is not None, "scripts/stack has no TOPICS=(...)")
    bases = m.group(1).split()
    expect("scripts/stack TOPICS and their .dlq", sorted(bases + [t + ".dlq" for t in bases]), ALL_TOPICS)
    expect("scripts/stack SCRAM users", re.findall(r"name=([a-z]+-service),", stack), SERVICES)
    expect("scripts/stack service passwords",
           re.findall(r"^export VAULT_STACK_KAFKA_([A-Z]+)_PASSWORD=", stack, re.M),
           [k.upper() for k in COMPONENTS])
    chain = [(s["service"], s["source_topic"], s["destination_topic"]) for s in STAGES]
    demo = (ROOT / "scripts" / "demo").read_text()
    started = [(n, src, dst or None) for n, group, src, dst in
               re.findall(r"^start (\S+) \d+ (\S+) (\S+) ?(\S*)$", demo, re.M)]
    expect("scripts/demo starts", started, chain)
    expect("scripts/demo groups", re.findall(r"^start \S+ \d+ (\S+)", demo, re.M),
           [s["group"] for s in STAGES])
    expect("scripts/demo --stage", re.findall(r"--stage (\w+)=", demo), list(COMPONENTS))
    image_check = (ROOT / "scripts" / "image-check").read_text()
    started = [(n, src, dst or None) for n, src, dst in
               re.findall(r"^service (\S+) \$\(\([^)]*\)\) (\S+) ?(\S*)$", image_check, re.M)]
    expect("scripts/image-check services", started, chain)
    for binaries in re.findall(r"for bin in ([^;]+);", image_check):
        expect("scripts/image-check binaries", binaries.split(), list(BINARIES))
    dockerfile = (ROOT / "Dockerfile").read_text()
    for binaries in re.findall(r"for bin in ([^;]+);", dockerfile):
        expect("Dockerfile binaries", binaries.split(), list(BINARIES))
    runtime = (DEPLOY / "ci" / "Containerfile.runtime").read_text()
    m = re.search(r"^COPY (.*) /usr/local/bin/$", runtime, re.M)
    expect("deploy/ci/Containerfile.runtime binaries", m.group(1).split() if m else None, list(BINARIES))
    problems_to_failure(problems)
    return "scripts/stack, scripts/demo, scripts/image-check, Dockerfile, deploy/ci/Containerfile.runtime"


def check_cloud_example(docs: list[dict]) -> str:
    """The SASL_SSL example really is SASL_SSL + CA + verify-full + existingSecret."""
    problems = []
    kinds = {d["kind"] for d in docs}
    for kind in ("PodDisruptionBudget", "ScaledObject", "TriggerAuthentication", "ServiceMonitor",
                 "PrometheusRule", "Job"):
        if kind not in kinds:
            problems.append(f"no {kind} rendered (the example turns it on)")
    for dep in (d for d in docs if d["kind"] == "Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env = env_map(c)
        name = dep["metadata"]["name"]
        if "KAFKA_CONSUMER_USERNAME" not in env:
            problems.append(f"{name}: no KAFKA_CONSUMER_USERNAME (not SASL_SSL)")
        if env.get("PG_WAREHOUSE_SSLMODE", {}).get("value") != "verify-full":
            problems.append(f"{name}: PG_WAREHOUSE_SSLMODE is not verify-full")
        for var in ("KAFKA_CONSUMER_PASSWORD", "PG_WAREHOUSE_PASSWORD"):
            if "secretKeyRef" not in (env.get(var, {}).get("valueFrom") or {}):
                problems.append(f"{name}: {var} not from existingSecret")
        if not any(m["mountPath"] == "/crt" for m in c.get("volumeMounts", [])):
            problems.append(f"{name}: no CA volume at /crt")
    for auth in (d for d in docs if d["kind"] == "TriggerAuthentication"):
        refs = {r["parameter"]: r for r in auth["spec"].get("secretTargetRef", [])}
        name = auth["metadata"]["name"]
        if refs.get("password", {}).get("name") != "vault-credentials":
            problems.append(f"{name}: KEDA's Kafka password is not from existingSecret")
        if refs.get("ca", {}).get("name") != "vault-ca":
            problems.append(f"{name}: KEDA's Kafka CA is not from caCertificate")
    for so in (d for d in docs if d["kind"] == "ScaledObject"):
        meta = so["spec"]["triggers"][0]["metadata"]
        if meta.get("sasl") != "scram_sha512" or meta.get("tls") != "enable":
            problems.append(f"{so['metadata']['name']}: KEDA's Kafka trigger is not SASL_SSL/SCRAM-SHA-512")
    problems_to_failure(problems)
    return ("SASL_SSL user, passwords from existingSecret, CA at /crt, verify-full, PDB + KEDA (same "
            "Secret and CA) + ServiceMonitor + PrometheusRule")


ALERTS = CHART / "files" / "alerts.yaml"
ALERTS_TEST = DEPLOY / "ci" / "alerts_test.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"


def check_promtool(promtool: str, verb: str, path: Path) -> str:
    result = run([promtool, verb, "rules", str(path)])
    output = (result.stdout + result.stderr).strip()
    require(result.returncode == 0, output)
    if verb == "test":
        alerts = {r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
                  if "alert" in r}
        tested = {t["alertname"] for case in yaml.safe_load(path.read_text())["tests"]
                  for t in case.get("alert_rule_test", [])}
        require(alerts <= tested, f"alerts without a test case: {sorted(alerts - tested)}")
        return f"{len(alerts)} alerts, each tested firing and not firing"
    return output.splitlines()[-1].strip()


def check_alerts_stages() -> str:
    """VaultMetricsAbsent names every declared stage, and only those."""
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
             if r.get("alert") == "VaultMetricsAbsent"]
    require(len(rules) == 1, f"{len(rules)} VaultMetricsAbsent rules")
    named = re.findall(r'absent\(vault_ready\{service="([^"]+)"\}\)', rules[0]["expr"])
    require(named == SERVICES, f"VaultMetricsAbsent asks for {named}, the stages are {SERVICES}")
    return ", ".join(named)


ALERTS_CHART_TEST = DEPLOY / "ci" / "alerts_chart_test.yaml"


def chart_rules(helm: Helm, *sets: str) -> list[dict]:
    """The rules of the PrometheusRule the chart renders (release namespace `vault`) with
    metrics.prometheusRule.enabled and the given --set values."""
    extra = ("--set", "metrics.prometheusRule.enabled=true", *[a for v in sets for a in ("--set", v)])
    result = helm.template(None, extra=extra)
    require(result.returncode == 0, (result.stdout + result.stderr).strip())
    rules = [d for d in yaml.safe_load_all(result.stdout) if d and d.get("kind") == "PrometheusRule"]
    require(len(rules) == 1, f"{len(rules)} PrometheusRules rendered with {' '.join(sets) or 'the defaults'}")
    return rules[0]["spec"]["groups"]


def metrics_absent_expr(groups: list[dict]) -> str | None:
    exprs = [r["expr"] for g in groups for r in g["rules"] if r.get("alert") == "VaultMetricsAbsent"]
    require(len(exprs) <= 1, f"{len(exprs)} VaultMetricsAbsent rules")
    return exprs[0] if exprs else None


def check_chart_metrics_absent(helm: Helm, promtool: str, out: Path) -> str:
    """The chart's VaultMetricsAbsent asks for the enabled components in the release's
    namespace: all three by default, not dds-service with dds.enabled=false (promtool-tested:
    deploy/ci/alerts_chart_test.yaml), and no rule with none enabled."""
    absent = re.compile(r'absent\(vault_ready\{namespace="([^"]*)", service="([^"]+)"\}\)')
    expr = metrics_absent_expr(chart_rules(helm))
    require(expr is not None, "no VaultMetricsAbsent with the default values")
    named = absent.findall(expr)
    require(sorted(named) == sorted(("vault", s) for s in SERVICES),
            f"default values: VaultMetricsAbsent asks for {named}; want every stage in namespace vault")
    groups = chart_rules(helm, "dds.enabled=false")
    expr = metrics_absent_expr(groups)
    require(expr is not None and "dds-service" not in expr,
            f"dds.enabled=false: VaultMetricsAbsent is {expr!r}; it must not name dds-service")
    require(sorted(absent.findall(expr)) == sorted(("vault", s) for s in SERVICES if s != "dds-service"),
            f"dds.enabled=false: VaultMetricsAbsent is {expr!r}")
    none = chart_rules(helm, *(f"{k}.enabled=false" for k in COMPONENTS))
    require(metrics_absent_expr(none) is None, "no component enabled, and still a VaultMetricsAbsent rule")
    # promtool: the rendered rules, and the test cases pointed at them
    rules_file = out / "chart-alerts-dds-disabled.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    test = yaml.safe_load(ALERTS_CHART_TEST.read_text())
    test["rule_files"] = [str(rules_file)]
    test_file = out / ALERTS_CHART_TEST.name
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    for verb, path in (("check", rules_file), ("test", test_file)):
        result = run([promtool, verb, "rules", str(path)])
        require(result.returncode == 0, f"promtool {verb} rules {path}:\n" + (result.stdout + result.stderr).strip())
    cases = len(test["tests"])
    return (f"namespace-scoped, enabled components only; dds.enabled=false: {expr.splitlines()[0]} …; "
            f"{cases} promtool cases of {rel(ALERTS_CHART_TEST)} pass on it")


def check_chart_readme() -> str:
    result = run([sys.executable, str(DEPLOY / "ci" / "chart_readme.py"), "--check"])
    require(result.returncode == 0, (result.stdout + result.stderr).strip())
    return result.stdout.strip()


def check_runbooks() -> str:
    """Every alert's runbook_url is a heading of docs/operations.md (the chart prefixes it with
    metrics.prometheusRule.runbookBaseUrl)."""
    ops = (ROOT / "docs" / "operations.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", ops, re.M)}
    problems = []
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"] if "alert" in r]
    for rule in rules:
        url = rule.get("annotations", {}).get("runbook_url", "")
        path, _, anchor = url.partition("#")
        if path != "docs/operations.md" or anchor not in anchors:
            problems.append(f"{rule['alert']}: runbook_url {url!r} is not a heading of docs/operations.md")
    problems_to_failure(problems)
    return f"{len(rules)} alerts, each with a runbook_url to its section of docs/operations.md"


def check_dashboard() -> str:
    dash = json.loads(DASHBOARD.read_text())
    problems = []
    panels = dash.get("panels", [])
    require(panels, "no panels")
    for panel in panels:
        title = panel.get("title", "?")
        if panel.get("datasource", {}).get("type") != "prometheus":
            problems.append(f"{title}: not on a Prometheus datasource")
        targets = panel.get("targets") or []
        if not targets or not all(re.search(r"\bvault_", t.get("expr", "")) for t in targets):
            problems.append(f"{title}: a target without a vault_* expression")
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids):
        problems.append("panel ids are not unique")
    problems_to_failure(problems)
    return f"{len(panels)} panels: " + ", ".join(p["title"] for p in panels)


def invalid_expectations(path: Path) -> tuple[str, list[str]]:
    kind, patterns = "schema", []
    for line in path.read_text().splitlines():
        m = re.match(r"#\s*must-fail:\s*(\w+)", line)
        if m:
            kind = m.group(1)
        m = re.match(r"#\s*expect:\s*(.+)", line)
        if m:
            patterns.append(m.group(1).strip())
    return kind, patterns


def check_invalid(helm: Helm, path: Path) -> str:
    kind, patterns = invalid_expectations(path)
    require(patterns, "no `# expect: REGEX` line")
    result = helm.template(path)
    output = (result.stdout + result.stderr).strip()
    require(result.returncode != 0, "helm ACCEPTED these values (it must reject them)")
    marker = {"schema": r"values don't meet the specifications of the schema",
              "template": r"execution error"}.get(kind, kind)
    require(re.search(marker, output) is not None,
            f"rejected, but not by the {kind} check:\n{output}")
    for pattern in patterns:
        require(re.search(pattern, output) is not None,
                f"rejected, but the message does not match {pattern!r}:\n{output}")
    if kind == "schema":  # (helm lint only logs a template's `fail`, by design)
        lint = helm.lint(path)
        require(lint.returncode != 0, "helm lint accepted these values")
    reason = next((l.strip(" -") for l in output.splitlines()
                   if re.search(patterns[0], l)), output.splitlines()[-1])
    return f"rejected by the {kind}: {reason}"


# ---- main ---------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--helm", required=True)
    parser.add_argument("--check-jsonschema", required=True)
    parser.add_argument("--hadolint", required=True)
    parser.add_argument("--promtool", required=True)
    parser.add_argument("--out", required=True, help="where rendered manifests are written")
    args = parser.parse_args()
    for tool in ("helm", "check_jsonschema", "hadolint", "promtool"):  # commands run from the repository root
        found = shutil.which(getattr(args, tool))
        if not found:
            parser.error(f"--{tool.replace('_', '-')}: {getattr(args, tool)} not found")
        setattr(args, tool, os.path.abspath(found))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    helm = Helm(args.helm)

    print("-- contract")
    report.run("env names: deploy/ci/variables.json is the declarations of vault_core::pipeline::vars", check_env_contract)
    report.run("stages: deploy/ci/stages.json is the declarations of vault_core::pipeline::stages", check_stages)
    report.run("the scripts' and the Dockerfile's stages, topics and binaries are the declared ones", check_scripts)

    print("-- image")
    report.run("Dockerfile: hadolint", lambda: check_hadolint(args.hadolint))
    report.run("Dockerfile: multi-stage, --locked, numeric non-root USER, no HEALTHCHECK, no build secrets",
               check_dockerfile_rules)
    report.run(".dockerignore", check_dockerignore)

    print("-- docker-compose")
    report.run(f"{rel(COMPOSE)}: parses, compose-spec schema",
               lambda: check_compose_schema(args.check_jsonschema))
    report.run(f"{rel(COMPOSE)}: env names, required variables, contract topics", check_compose_env)
    report.run(f"{rel(COMPOSE)}: health-gated start order, topic creator", check_compose_order)
    report.run(f"{rel(COMPOSE)}: the Kafka version of scripts/stack", check_compose_kafka_version)

    print("-- helm chart")
    helm_values = values_files()
    report.run("chart values, schema and templates: env names", lambda: check_values_env_names(helm_values))
    report.run("chart default topics and consumer groups (the declared stages)", check_helm_default_topics)
    report.run("chart components are the declared stages", check_chart_components)
    for label, path in helm_values:
        def lint(path: Path | None = path) -> str:
            result = helm.lint(path)
            require(result.returncode == 0, (result.stdout + result.stderr).strip())
            return ""
        report.run(f"helm lint --strict: {label}", lint)

        rendered: dict[str, list[dict]] = {}

        def template(path: Path | None = path, label: str = label,
                     rendered: dict[str, list[dict]] = rendered) -> str:
            result = helm.template(path)
            require(result.returncode == 0, (result.stdout + result.stderr).strip())
            name = "default" if path is None else path.stem
            (out / f"{name}.yaml").write_text(result.stdout)
            docs = [d for d in yaml.safe_load_all(result.stdout) if d]
            rendered["docs"] = docs
            return f"{len(docs)} objects -> {os.path.relpath(out / (name + '.yaml'), ROOT)}"
        report.run(f"helm template: {label}", template)
        if "docs" not in rendered:
            continue
        docs = rendered["docs"]
        values = load_values(path)
        report.run(f"kubernetes-validate --strict: {label}", lambda docs=docs, label=label: validate_k8s(docs, label))
        report.run(f"policy (pod security, probes, env, secrets, topics): {label}",
                   lambda docs=docs, values=values, label=label: check_deployment_policy(docs, values, label))
        if any(d["kind"] == "NetworkPolicy" for d in docs):
            report.run(f"NetworkPolicies: helm test pods in, warehouse tasks out to PostgreSQL only: {label}",
                       lambda docs=docs: check_network_policy(docs))
        if path is not None and path.name == "cloud-sasl-ssl.yaml":
            report.run(f"cloud example is SASL_SSL + CA + verify-full + existingSecret: {label}",
                       lambda docs=docs: check_cloud_example(docs))

    def old_name_upgrade() -> str:
        # A release installed when the chart was named `vault` (`helm install vault`) keeps its
        # Deployments' names and immutable selectors with nameOverride=vault (docs/deploy.md).
        result = helm.template(None, release="vault", extra=("--set", "nameOverride=vault"))
        require(result.returncode == 0, (result.stdout + result.stderr).strip())
        deployments = [d for d in yaml.safe_load_all(result.stdout) if d and d.get("kind") == "Deployment"]
        want = {f"vault-{b}" for b in SERVICES}
        names = {d["metadata"]["name"] for d in deployments}
        require(names == want, f"Deployments {sorted(names)}, the old chart made {sorted(want)}")
        for d in deployments:
            labels = d["spec"]["selector"]["matchLabels"]
            require(labels.get("app.kubernetes.io/name") == "vault" and labels.get("app.kubernetes.io/instance") == "vault",
                    f"{d['metadata']['name']}: selector {labels}")
        return ", ".join(sorted(names))
    report.run("a release of the chart's old name upgrades in place (nameOverride=vault)", old_name_upgrade)

    print("-- alerts")
    report.run(f"promtool check rules {rel(ALERTS)}", lambda: check_promtool(args.promtool, "check", ALERTS))
    report.run("runbook_url of every alert", check_runbooks)
    report.run("VaultMetricsAbsent names every declared stage", check_alerts_stages)
    report.run("the chart's VaultMetricsAbsent: the enabled components, in the release's namespace",
               lambda: check_chart_metrics_absent(helm, args.promtool, out))
    report.run("the chart's README is made from its values (deploy/ci/chart_readme.py)", check_chart_readme)
    report.run(f"promtool test rules {rel(ALERTS_TEST)} (a case per alert)",
               lambda: check_promtool(args.promtool, "test", ALERTS_TEST))
    report.run(f"{rel(DASHBOARD)}: a Grafana dashboard, every panel on Prometheus", check_dashboard)

    invalid = sorted((DEPLOY / "helm" / "tests" / "invalid").glob("*.yaml"))
    report.run("invalid values files exist", lambda: require(len(invalid) >= 2, "fewer than 2") or f"{len(invalid)} files")
    for path in invalid:
        report.run(f"must be rejected: {rel(path)}", lambda path=path: check_invalid(helm, path))

    failed = len(report.failed)
    print()
    if failed:
        print("failed checks:")
        for name in report.failed:
            print(f"  - {name}")
    print(f"deploy-check: {report.passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
