"""Validation of PipelineRuns against Tekton's own data in ../shared/tekton/ (REFERENCE.md §9b):
the CRD schema of crds/300-pipelinerun.yaml (what the API server checks: 422 Invalid), then
what Tekton's validating webhook checks (400 BadRequest): no unknown fields anywhere, the
embedded pipelineSpec against crds/300-pipeline.yaml, each embedded taskSpec against
crds/300-task.yaml, every taskRef against the catalog task's declared params and
workspaces, parameter and workspace names matching their declarations, $(params.x)
references, runAfter names, taskRunSpecs names, timeouts and the 63-character name rule.

validate_pipeline_run(obj) returns (http_status, message, causes) or None when valid."""
import glob
import os
import re
from pathlib import Path

import yaml

# Tekton's CRDs and catalog tasks live in shared/tekton beside the repository's checkout.
TEKTON_DIR = Path(os.environ.get("KILN_TEKTON_DIR", Path(__file__).resolve().parents[3] / "shared" / "tekton"))
if not (TEKTON_DIR / "crds").is_dir():
    raise RuntimeError(f"Tekton reference data not found at {TEKTON_DIR}: check out shared/ beside the "
                       "repository or set KILN_TEKTON_DIR")

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
PARAM_REF = re.compile(r"\$\(params\.([A-Za-z0-9_.-]+?)(\[\*\])?\)")
GO_DURATION = re.compile(r"^((\d+(\.\d+)?)(h|m|s|ms|us|ns))+$|^0$")


def _v1_schema(file):
    doc = yaml.safe_load((TEKTON_DIR / "crds" / file).read_text())
    for version in doc["spec"]["versions"]:
        if version["name"] == "v1":
            return version["schema"]["openAPIV3Schema"]
    raise RuntimeError(f"no v1 schema in {file}")


PIPELINERUN_SCHEMA = _v1_schema("300-pipelinerun.yaml")
PIPELINE_SPEC_SCHEMA = _v1_schema("300-pipeline.yaml")["properties"]["spec"]
TASK_SPEC_SCHEMA = _v1_schema("300-task.yaml")["properties"]["spec"]


def _version_key(text):
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.-]", text or "0"))


def load_catalog():
    """Catalog Tasks by name (the highest version of each)."""
    tasks = {}
    for path in glob.glob(str(TEKTON_DIR / "catalog" / "**" / "*.yaml"), recursive=True):
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "Task":
                continue
            name = doc["metadata"]["name"]
            version = doc["metadata"].get("labels", {}).get("app.kubernetes.io/version", "0")
            if name not in tasks or _version_key(version) > _version_key(tasks[name]["version"]):
                tasks[name] = {"version": version, "spec": doc["spec"], "file": os.path.basename(path)}
    return tasks


CATALOG = load_catalog()


def _type_ok(value, schema):
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    t = schema.get("type")
    if t is None:
        return True
    return {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }[t](value)


def check_schema(value, schema, path, errors, unknown):
    """Structural OpenAPI v3 check as the API server does it. Type, required and pattern
    problems go to errors; fields the schema does not know (outside preserved subtrees)
    go to unknown (the API server prunes them; Tekton's webhook refuses them)."""
    if value is None:
        return  # null is dropped by the API server
    if "anyOf" in schema and not schema.get("x-kubernetes-int-or-string"):
        if not any(_type_ok(value, s) for s in schema["anyOf"]):
            errors.append((path, f"Invalid value: {value!r}: {path} in body must be of the declared type"))
            return
    if not _type_ok(value, schema):
        errors.append((path, f"Invalid value: \"{type(value).__name__}\": {path} in body must be of type "
                             f"{schema.get('type', 'integer or string')}"))
        return
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append((path, f"Invalid value: {value!r}: {path} in body should match '{schema['pattern']}'"))
    if "enum" in schema and value not in schema["enum"]:
        errors.append((path, f"Unsupported value: {value!r}"))
    if isinstance(value, dict):
        props = schema.get("properties")
        for key in schema.get("required", []):
            if key not in value:
                errors.append((f"{path}.{key}", f"Required value: {path}.{key} is required"))
        for key, item in value.items():
            if props is not None and key in props:
                check_schema(item, props[key], f"{path}.{key}", errors, unknown)
            elif "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
                check_schema(item, schema["additionalProperties"], f"{path}.{key}", errors, unknown)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                unknown.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], f"{path}[{i}]", errors, unknown)


def _duration_seconds(text):
    if text == "0":
        return 0
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(h|ms|us|ns|m|s)", text))


def _param_refs(value):
    """Every $(params.x) in a value (strings, lists, maps)."""
    if isinstance(value, str):
        return [m.group(1).split(".")[0] for m in PARAM_REF.finditer(value)]
    if isinstance(value, list):
        return [r for v in value for r in _param_refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _param_refs(v)]
    return []


def _check_task_binding(task, where, declared_params, declared_workspaces, errors):
    """A pipeline task's params and workspaces against what its Task declares."""
    given = {p.get("name") for p in task.get("params", []) or []}
    names = {p["name"] for p in declared_params}
    for p in sorted(given - names):
        errors.append(f"{where}.params: the task does not declare param \"{p}\" (it declares {sorted(names)})")
    for p in declared_params:
        if "default" not in p and p["name"] not in given:
            errors.append(f"{where}.params: missing value for required param \"{p['name']}\"")
    bound = {w.get("name") for w in task.get("workspaces", []) or []}
    ws_names = {w["name"] for w in declared_workspaces}
    for w in sorted(bound - ws_names):
        errors.append(f"{where}.workspaces: the task does not declare workspace \"{w}\"")
    for w in declared_workspaces:
        if not w.get("optional") and w["name"] not in bound:
            errors.append(f"{where}.workspaces: required workspace \"{w['name']}\" is not bound")


def webhook_errors(run):
    """What Tekton's validating webhook would deny, as messages."""
    errors = []
    meta, spec = run.get("metadata", {}), run.get("spec", {})
    if len(meta.get("name", "")) > 63:
        errors.append(f"metadata.name: Invalid value: \"{meta['name']}\": must be no more than 63 characters")
    if ("pipelineRef" in spec) == ("pipelineSpec" in spec):
        errors.append("spec: expected exactly one, got both or neither: spec.pipelineRef, spec.pipelineSpec")
    if spec.get("status") not in (None, "", "Cancelled", "CancelledRunFinally", "StoppedRunFinally",
                                  "PipelineRunPending"):
        errors.append(f"spec.status: Invalid value: {spec.get('status')}")
    timeouts = spec.get("timeouts") or {}
    for key, value in timeouts.items():
        if not GO_DURATION.match(str(value)):
            errors.append(f"spec.timeouts.{key}: Invalid value: \"{value}\": not a duration")
    if GO_DURATION.match(str(timeouts.get("pipeline", "1h"))):
        total = _duration_seconds(str(timeouts.get("tasks", "0"))) + _duration_seconds(str(timeouts.get("finally", "0")))
        pipeline = _duration_seconds(str(timeouts.get("pipeline", "1h")))
        if pipeline and total > pipeline:
            errors.append("spec.timeouts: Invalid value: tasks + finally exceed the pipeline timeout")
    pspec = spec.get("pipelineSpec")
    if not isinstance(pspec, dict):
        return errors
    schema_errors, unknown = [], []
    check_schema(pspec, PIPELINE_SPEC_SCHEMA, "spec.pipelineSpec", schema_errors, unknown)
    errors += [m for _, m in schema_errors] + [f"{u}: unknown field" for u in unknown]
    declared = {p.get("name"): p for p in pspec.get("params", []) or []}
    given = {p.get("name") for p in spec.get("params", []) or []}
    for p in sorted(given - set(declared)):
        errors.append(f"spec.params: the pipeline does not declare param \"{p}\"")
    for name, p in declared.items():
        if "default" not in p and name not in given:
            errors.append(f"spec.params: missing value for required param \"{name}\"")
    ws_declared = {w.get("name"): w for w in pspec.get("workspaces", []) or []}
    ws_bound = {w.get("name") for w in spec.get("workspaces", []) or []}
    for w, decl in ws_declared.items():
        if not decl.get("optional") and w not in ws_bound:
            errors.append(f"spec.workspaces: pipeline requires workspace \"{w}\" but none was provided")
    tasks = (pspec.get("tasks") or []) + (pspec.get("finally") or [])
    task_names = [t.get("name") for t in tasks]
    for i, task in enumerate(tasks):
        where = f"spec.pipelineSpec.tasks[{i}]"
        if not task.get("name") or not DNS_LABEL.match(task.get("name", "")):
            errors.append(f"{where}.name: Invalid value: must be a DNS label")
        for ref in _param_refs(task.get("params")) + _param_refs(task.get("when")):
            if ref not in declared:
                errors.append(f"{where}: non-existent variable in \"$(params.{ref})\"")
        for after in task.get("runAfter", []) or []:
            if after not in task_names:
                errors.append(f"{where}.runAfter: task \"{after}\" does not exist")
        for w in task.get("workspaces", []) or []:
            if w.get("workspace") not in ws_declared:
                errors.append(f"{where}.workspaces: pipeline workspace \"{w.get('workspace')}\" is not declared")
        if ("taskRef" in task) == ("taskSpec" in task):
            errors.append(f"{where}: expected exactly one, got both or neither: taskRef, taskSpec")
        elif "taskRef" in task:
            ref = task["taskRef"].get("name")
            if ref not in CATALOG:
                errors.append(f"{where}.taskRef: task \"{ref}\" is not in the catalog")
            else:
                cat = CATALOG[ref]["spec"]
                _check_task_binding(task, where, cat.get("params", []) or [], cat.get("workspaces", []) or [],
                                    errors)
        else:
            tspec = task["taskSpec"]
            t_errors, t_unknown = [], []
            check_schema(tspec, TASK_SPEC_SCHEMA, f"{where}.taskSpec", t_errors, t_unknown)
            errors += [m for _, m in t_errors] + [f"{u}: unknown field" for u in t_unknown]
            if not tspec.get("steps"):
                errors.append(f"{where}.taskSpec.steps: Required value: at least one step")
            for j, step in enumerate(tspec.get("steps") or []):
                if not step.get("image"):
                    errors.append(f"{where}.taskSpec.steps[{j}].image: Required value")
                if "script" in step and "command" in step:
                    errors.append(f"{where}.taskSpec.steps[{j}]: script cannot be used with command")
            t_params = {p.get("name") for p in tspec.get("params", []) or []}
            for ref in _param_refs(tspec.get("steps")):
                if ref not in t_params:
                    errors.append(f"{where}.taskSpec: non-existent variable in \"$(params.{ref})\"")
            _check_task_binding(task, where, tspec.get("params", []) or [], tspec.get("workspaces", []) or [],
                                errors)
    for i, trs in enumerate(spec.get("taskRunSpecs", []) or []):
        if trs.get("pipelineTaskName") not in task_names:
            errors.append(f"spec.taskRunSpecs[{i}].pipelineTaskName: no pipeline task "
                          f"\"{trs.get('pipelineTaskName')}\"")
    return errors


def validate_pipeline_run(run):
    """(status, message, causes) of the API server's answer to creating run, or None."""
    if not isinstance(run, dict):
        return 400, "the body is not a JSON object", []
    if run.get("apiVersion") != "tekton.dev/v1" or run.get("kind") != "PipelineRun":
        return 400, f"the object is a {run.get('apiVersion')}/{run.get('kind')}, not a tekton.dev/v1 PipelineRun", []
    meta = run.get("metadata") or {}
    name = meta.get("name", "")
    causes = []
    if not name or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        causes.append({"reason": "FieldValueInvalid", "field": "metadata.name",
                       "message": f"Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of "
                                  "lower case alphanumeric characters, '-' or '.'"})
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, short = key.rpartition("/")
        if (prefix and not DNS_SUBDOMAIN.match(prefix)) or not LABEL_NAME.match(short) or len(short) > 63:
            causes.append({"reason": "FieldValueInvalid", "field": f"metadata.labels", "message": f"Invalid label key {key!r}"})
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            causes.append({"reason": "FieldValueInvalid", "field": f"metadata.labels",
                           "message": f"Invalid label value {value!r} of {key!r}"})
    errors, _unknown = [], []
    check_schema(run, PIPELINERUN_SCHEMA, "", errors, _unknown)
    causes += [{"reason": "FieldValueInvalid", "field": path.lstrip("."), "message": msg} for path, msg in errors]
    if causes:
        return 422, f"PipelineRun.tekton.dev \"{name}\" is invalid: " + "; ".join(c["message"] for c in causes), causes
    # Tekton's webhook refuses unknown fields anywhere outside preserved subtrees.
    errors = [f"{u.lstrip('.')}: unknown field" for u in _unknown] + webhook_errors(run)
    if errors:
        return 400, ('admission webhook "validation.webhook.pipeline.tekton.dev" denied the request: '
                     "validation failed: " + "; ".join(errors)), []
    return None
