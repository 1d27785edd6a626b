#!/usr/bin/env python3
"""Offline checks of deploy/: the Kubernetes manifests, the Dockerfile and the
local cluster launcher. No cluster, no network: python3 with the Debian
python3-yaml package (kubectl and shellcheck are used when installed).

  validate_manifests.py [REPO_ROOT]   check deploy/ of REPO_ROOT (default: ../..)
  validate_manifests.py --self-test   feed broken in-memory manifests, assert each is rejected

What is checked (each problem names the file, the object and the field):
  every YAML document in deploy/k8s parses; apiVersion/kind/metadata.name with
  the right types for known kinds; labels/annotations are strings;
  StatefulSet/Deployment: selector.matchLabels is a subset of the template's
  labels, replicas is an integer, spec.serviceName names a headless Service
  (clusterIP: None) of these manifests that selects the pods, containers have
  name/image/ports with integer containerPorts, probes (readiness and liveness
  required) point at a declared port by name or number, volumeMounts name a
  volume or a volumeClaimTemplate, env secretKeyRef names a Secret (and key)
  of secret.example.yaml, $(VAR) in args names a declared env var,
  prometheus.io annotations are consistent; Services: selector matches some
  workload's pod labels and targetPort names a container port; tt-node's
  --cluster-size is not above the replicas; PDBs: selector
  matches a workload, the budget leaves evictions possible; kustomization.yaml
  lists exactly the manifests present (*.example.yaml are templates and must
  not be listed) and its images name an image in use;
  deploy/docker/Dockerfile: multi-stage, non-root USER, ENTRYPOINT tt-node,
  EXPOSE covers the container ports, COPY --from names a stage, no -dev
  packages at runtime, a HEALTHCHECK or Kubernetes probes on /healthz;
  deploy/local/cluster.sh: `bash -n`, `--help` exits 0, shellcheck (when
  installed) is clean; `kubectl kustomize deploy/k8s` renders (when kubectl is
  installed; offline).
"""

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    print("validate_manifests: python3-yaml is missing (apt-get install python3-yaml)", file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------
# small helpers

KNOWN_KINDS = {
    "Namespace": {"v1"},
    "Service": {"v1"},
    "Secret": {"v1"},
    "ConfigMap": {"v1"},
    "ServiceAccount": {"v1"},
    "StatefulSet": {"apps/v1"},
    "Deployment": {"apps/v1"},
    "DaemonSet": {"apps/v1"},
    "PodDisruptionBudget": {"policy/v1"},
    "NetworkPolicy": {"networking.k8s.io/v1"},
    "Ingress": {"networking.k8s.io/v1"},
}
WORKLOAD_KINDS = {"StatefulSet", "Deployment", "DaemonSet"}

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|[eE][+-]?[0-9]+)?$")
VAR_REF = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
FIELD_PATHS = {"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
               "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs",
               "status.hostIPs"}
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
PROBE_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_str(v):
    return isinstance(v, str)


def show(v):
    return f"{type(v).__name__} {v!r}"


def quantity_value(q):
    """A Kubernetes quantity as a float (for request <= limit), or None."""
    if is_int(q) or isinstance(q, float):
        return float(q)
    if not is_str(q) or not QUANTITY.match(q):
        return None
    m = re.match(r"^[+]?([0-9.]+)(.*)$", q)
    num, suffix = float(m.group(1)), m.group(2)
    mult = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
    if suffix in mult:
        return num * mult[suffix]
    if suffix[:1] in "eE":
        return num * 10 ** int(suffix[1:])
    return None


def image_name(image):
    """'reg:5000/a/b:tag@sha256:..' -> 'reg:5000/a/b'."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


class Problems:
    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append(f"{where}: {msg}")

    def __len__(self):
        return len(self.items)


class Doc:
    def __init__(self, file, index, obj):
        self.file, self.index, self.obj = file, index, obj

    @property
    def kind(self):
        k = self.obj.get("kind")
        return k if is_str(k) else "?"

    @property
    def name(self):
        md = self.obj.get("metadata")
        n = md.get("name") if isinstance(md, dict) else None
        return n if is_str(n) else "?"

    def at(self, path=""):
        base = f"{self.file} {self.kind}/{self.name}"
        if self.name == "?":
            base += f" (document {self.index + 1})"
        return f"{base} {path}".rstrip()


def get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


# --------------------------------------------------------------------------
# Kubernetes manifests

class K8sCheck:
    """files: {file name: YAML text} of one manifest directory."""

    def __init__(self, files, label="deploy/k8s"):
        self.files = files
        self.label = label
        self.p = Problems()
        self.docs = []
        self.kustomization = None

    def where(self, file):
        return f"{self.label}/{file}"

    # ---- loading
    def load(self):
        for file in sorted(self.files):
            text = self.files[file]
            try:
                objs = list(yaml.safe_load_all(text))
            except yaml.YAMLError as e:
                self.p.add(self.where(file), "YAML does not parse: " + " ".join(str(e).split()))
                continue
            objs = [o for o in objs if o is not None]
            if not objs:
                self.p.add(self.where(file), "no YAML documents")
            for i, obj in enumerate(objs):
                if not isinstance(obj, dict):
                    self.p.add(self.where(file), f"document {i + 1} is a {type(obj).__name__}, not a mapping")
                    continue
                if file == "kustomization.yaml":
                    self.kustomization = obj
                    continue
                self.docs.append(Doc(self.where(file), i, obj))

    # ---- generic
    def check_metadata(self, d):
        o = d.obj
        api, kind = o.get("apiVersion"), o.get("kind")
        if not is_str(api) or not api:
            self.p.add(d.at("apiVersion"), f"required string (got {show(api)})")
        if not is_str(kind) or not kind:
            self.p.add(d.at("kind"), f"required string (got {show(kind)})")
        elif kind not in KNOWN_KINDS:
            self.p.add(d.at("kind"), f"unknown kind {kind!r} (known: {', '.join(sorted(KNOWN_KINDS))})")
        elif is_str(api) and api not in KNOWN_KINDS[kind]:
            self.p.add(d.at("apiVersion"), f"{kind} needs apiVersion {'/'.join(sorted(KNOWN_KINDS[kind]))} (got {api!r})")
        md = o.get("metadata")
        if not isinstance(md, dict):
            self.p.add(d.at("metadata"), "required mapping with a name")
            return
        name = md.get("name")
        if not is_str(name) or not name:
            self.p.add(d.at("metadata.name"), f"required string (got {show(name)})")
        else:
            rx, what = (DNS1035_LABEL, "a DNS-1035 label") if kind == "Service" else (DNS1123_SUBDOMAIN, "a DNS-1123 name")
            if kind in ("Namespace", "StatefulSet"):
                rx, what = DNS1123_LABEL, "a DNS-1123 label"
            if not rx.match(name) or len(name) > (63 if rx is not DNS1123_SUBDOMAIN else 253):
                self.p.add(d.at("metadata.name"), f"{name!r} is not {what}")
        ns = md.get("namespace")
        if ns is not None and (not is_str(ns) or not DNS1123_LABEL.match(ns)):
            self.p.add(d.at("metadata.namespace"), f"not a DNS-1123 label ({show(ns)})")
        self.check_string_map(d, "metadata.labels", md.get("labels"), labels=True)
        self.check_string_map(d, "metadata.annotations", md.get("annotations"))

    def check_string_map(self, d, path, m, labels=False):
        if m is None:
            return
        if not isinstance(m, dict):
            self.p.add(d.at(path), f"must be a mapping (got {show(m)})")
            return
        for k, v in m.items():
            if not is_str(k):
                self.p.add(d.at(path), f"key {k!r} must be a string")
            if not is_str(v):
                self.p.add(d.at(f"{path}.{k}"), f"value must be a string; quote it (got {show(v)})")
            elif labels and (len(v) > 63 or not LABEL_VALUE.match(v)):
                self.p.add(d.at(f"{path}.{k}"), f"{v!r} is not a valid label value")

    # ---- run
    def run(self):
        self.load()
        for d in self.docs:
            self.check_metadata(d)
        seen = {}
        for d in self.docs:
            key = (d.kind, get(d.obj, "metadata", "namespace"), d.name)
            if key in seen:
                self.p.add(d.at(), f"duplicate {d.kind} {d.name!r} (also in {seen[key]})")
            seen[key] = d.at()

        self.services = [d for d in self.docs if d.kind == "Service"]
        self.workloads = [d for d in self.docs if d.kind in WORKLOAD_KINDS]
        self.secrets = {}
        for d in self.docs:
            if d.kind == "Secret" and os.path.basename(d.file) == "secret.example.yaml":
                self.secrets[d.name] = self.secret_keys(d)
        self.configmaps = {d.name: set((get(d.obj, "data") or {}).keys()) | set((get(d.obj, "binaryData") or {}).keys())
                           for d in self.docs if d.kind == "ConfigMap"}

        for d in self.docs:
            {"StatefulSet": self.check_workload, "Deployment": self.check_workload,
             "DaemonSet": self.check_workload, "Service": self.check_service,
             "PodDisruptionBudget": self.check_pdb, "Secret": self.check_secret}.get(d.kind, lambda _d: None)(d)
        self.check_kustomization()
        return self.p

    # ---- helpers over workloads
    @staticmethod
    def pod_labels(w):
        labels = get(w.obj, "spec", "template", "metadata", "labels")
        return labels if isinstance(labels, dict) else {}

    @staticmethod
    def containers(w):
        cs = get(w.obj, "spec", "template", "spec", "containers")
        return [c for c in cs if isinstance(c, dict)] if isinstance(cs, list) else []

    def workloads_selected_by(self, selector):
        return [w for w in self.workloads
                if selector and all(self.pod_labels(w).get(k) == v for k, v in selector.items())]

    @staticmethod
    def port_names_numbers(containers):
        names, numbers = set(), set()
        for c in containers:
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    if is_str(p.get("name")):
                        names.add(p["name"])
                    if is_int(p.get("containerPort")):
                        numbers.add(p["containerPort"])
        return names, numbers

    # ---- workloads
    def check_workload(self, d):
        spec = d.obj.get("spec")
        if not isinstance(spec, dict):
            self.p.add(d.at("spec"), "required mapping")
            return
        if d.kind != "DaemonSet":
            if d.kind == "StatefulSet" and "replicas" not in spec:
                self.p.add(d.at("spec.replicas"), "required (an integer)")
            elif "replicas" in spec and (not is_int(spec["replicas"]) or spec["replicas"] < 0):
                self.p.add(d.at("spec.replicas"), f"must be an integer >= 0 (got {show(spec['replicas'])})")
        tmpl = spec.get("template")
        if not isinstance(tmpl, dict):
            self.p.add(d.at("spec.template"), "required mapping")
            return
        labels = get(tmpl, "metadata", "labels")
        if not isinstance(labels, dict) or not labels:
            self.p.add(d.at("spec.template.metadata.labels"), "required non-empty mapping")
            labels = {}
        else:
            self.check_string_map(d, "spec.template.metadata.labels", labels, labels=True)
        self.check_string_map(d, "spec.template.metadata.annotations", get(tmpl, "metadata", "annotations"))
        ml = get(spec, "selector", "matchLabels")
        if not isinstance(ml, dict) or not ml:
            self.p.add(d.at("spec.selector.matchLabels"), "required non-empty mapping")
        else:
            for k, v in ml.items():
                if labels.get(k) != v:
                    self.p.add(d.at(f"spec.selector.matchLabels.{k}"),
                               f"{k}={v!r} is not among the template labels {labels} (selector must be a subset)")

        vct_names = set()
        if d.kind == "StatefulSet":
            sn = spec.get("serviceName")
            if not is_str(sn) or not sn:
                self.p.add(d.at("spec.serviceName"), f"required string naming a headless Service (got {show(sn)})")
            else:
                svc = [s for s in self.services if s.name == sn]
                if not svc:
                    self.p.add(d.at("spec.serviceName"), f"no Service {sn!r} in the manifests")
                else:
                    s = svc[0]
                    if get(s.obj, "spec", "clusterIP") != "None":
                        self.p.add(d.at("spec.serviceName"), f"Service {sn!r} is not headless (needs spec.clusterIP: None)")
                    sel = get(s.obj, "spec", "selector") or {}
                    if isinstance(sel, dict) and any(labels.get(k) != v for k, v in sel.items()):
                        self.p.add(d.at("spec.serviceName"), f"Service {sn!r} selector {sel} does not select this StatefulSet's pods")
            if "podManagementPolicy" in spec and spec["podManagementPolicy"] not in ("OrderedReady", "Parallel"):
                self.p.add(d.at("spec.podManagementPolicy"), f"must be OrderedReady or Parallel (got {show(spec['podManagementPolicy'])})")
            vcts = spec.get("volumeClaimTemplates", [])
            if not isinstance(vcts, list):
                self.p.add(d.at("spec.volumeClaimTemplates"), "must be a list")
                vcts = []
            for i, v in enumerate(vcts):
                path = f"spec.volumeClaimTemplates[{i}]"
                n = get(v, "metadata", "name")
                if not is_str(n) or not DNS1123_LABEL.match(n):
                    self.p.add(d.at(f"{path}.metadata.name"), f"required DNS-1123 label (got {show(n)})")
                else:
                    vct_names.add(n)
                modes = get(v, "spec", "accessModes")
                if not isinstance(modes, list) or not modes or any(
                        m not in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod") for m in modes):
                    self.p.add(d.at(f"{path}.spec.accessModes"), f"required list of access modes (got {show(modes)})")
                st = get(v, "spec", "resources", "requests", "storage")
                if quantity_value(st) is None:
                    self.p.add(d.at(f"{path}.spec.resources.requests.storage"), f"required quantity such as 10Gi (got {show(st)})")
        self.check_pod_spec(d, "spec.template.spec", tmpl.get("spec"), vct_names, get(tmpl, "metadata", "annotations") or {})
        # tt-node: shard homes are assigned once --cluster-size nodes joined;
        # more than the replicas would never happen.
        replicas = spec.get("replicas", 1)
        for i, c in enumerate(self.containers(d)):
            for j, a in enumerate(c.get("args") or []):
                m = re.match(r"^--cluster-size=(\d+)$", a) if is_str(a) else None
                if m and is_int(replicas) and int(m.group(1)) > replicas:
                    self.p.add(d.at(f"spec.template.spec.containers[{i}].args[{j}]"),
                               f"--cluster-size={m.group(1)} exceeds replicas {replicas}: shard homes would never be assigned")

    def check_pod_spec(self, d, path, ps, vct_names, annotations):
        if not isinstance(ps, dict):
            self.p.add(d.at(path), "required mapping")
            return
        tgp = ps.get("terminationGracePeriodSeconds")
        if tgp is not None and (not is_int(tgp) or tgp < 0):
            self.p.add(d.at(f"{path}.terminationGracePeriodSeconds"), f"must be an integer >= 0 (got {show(tgp)})")
        volumes = ps.get("volumes", [])
        vol_names = set()
        if not isinstance(volumes, list):
            self.p.add(d.at(f"{path}.volumes"), "must be a list")
            volumes = []
        for i, v in enumerate(volumes):
            n = v.get("name") if isinstance(v, dict) else None
            if not is_str(n) or not DNS1123_LABEL.match(n):
                self.p.add(d.at(f"{path}.volumes[{i}].name"), f"required DNS-1123 label (got {show(n)})")
                continue
            if n in vol_names:
                self.p.add(d.at(f"{path}.volumes[{i}].name"), f"duplicate volume {n!r}")
            vol_names.add(n)
            sources = [k for k in v if k != "name"]
            if len(sources) != 1:
                self.p.add(d.at(f"{path}.volumes[{i}]"), f"volume {n!r} needs exactly one source (got {sources})")
        clash = vol_names & vct_names
        if clash:
            self.p.add(d.at(f"{path}.volumes"), f"{sorted(clash)} also named by a volumeClaimTemplate")

        cs = ps.get("containers")
        if not isinstance(cs, list) or not cs:
            self.p.add(d.at(f"{path}.containers"), "required non-empty list")
            cs = []
        names = set()
        for kind_key, lst in (("containers", cs), ("initContainers", ps.get("initContainers") or [])):
            for i, c in enumerate(lst):
                cpath = f"{path}.{kind_key}[{i}]"
                if not isinstance(c, dict):
                    self.p.add(d.at(cpath), "must be a mapping")
                    continue
                n = c.get("name")
                if n in names:
                    self.p.add(d.at(f"{cpath}.name"), f"duplicate container name {n!r}")
                names.add(n)
                self.check_container(d, cpath, c, vol_names | vct_names, main=(kind_key == "containers"))

        # prometheus.io annotations on the pod template
        pnames, pnumbers = self.port_names_numbers([c for c in cs if isinstance(c, dict)])
        scrape = annotations.get("prometheus.io/scrape")
        if scrape is not None and scrape not in ("true", "false"):
            self.p.add(d.at("spec.template.metadata.annotations.prometheus.io/scrape"), f"must be \"true\" or \"false\" (got {show(scrape)})")
        port = annotations.get("prometheus.io/port")
        if port is not None:
            if not is_str(port) or not port.isdigit() or int(port) not in pnumbers:
                self.p.add(d.at("spec.template.metadata.annotations.prometheus.io/port"),
                           f"must be a quoted containerPort of this pod {sorted(pnumbers)} (got {show(port)})")
        mpath = annotations.get("prometheus.io/path")
        if mpath is not None and (not is_str(mpath) or not mpath.startswith("/")):
            self.p.add(d.at("spec.template.metadata.annotations.prometheus.io/path"), f"must be a path such as /metrics (got {show(mpath)})")

    def check_container(self, d, cpath, c, volume_names, main):
        n = c.get("name")
        if not is_str(n) or not DNS1123_LABEL.match(n):
            self.p.add(d.at(f"{cpath}.name"), f"required DNS-1123 label (got {show(n)})")
        img = c.get("image")
        if not is_str(img) or not img or any(ch.isspace() for ch in img):
            self.p.add(d.at(f"{cpath}.image"), f"required image reference (got {show(img)})")
        for key in ("command", "args"):
            v = c.get(key)
            if v is not None and (not isinstance(v, list) or not all(is_str(x) for x in v)):
                bad = [x for x in v if not is_str(x)] if isinstance(v, list) else v
                self.p.add(d.at(f"{cpath}.{key}"), f"must be a list of strings; quote {bad!r}")

        # ports
        ports = c.get("ports")
        if main and (not isinstance(ports, list) or not ports):
            self.p.add(d.at(f"{cpath}.ports"), "required non-empty list")
        pnames, pnumbers = set(), set()
        for i, p in enumerate(ports if isinstance(ports, list) else []):
            ppath = f"{cpath}.ports[{i}]"
            if not isinstance(p, dict):
                self.p.add(d.at(ppath), "must be a mapping")
                continue
            cp = p.get("containerPort")
            if not is_int(cp) or not 1 <= cp <= 65535:
                self.p.add(d.at(f"{ppath}.containerPort"), f"must be an integer 1..65535 (got {show(cp)})")
            elif cp in pnumbers:
                self.p.add(d.at(f"{ppath}.containerPort"), f"duplicate containerPort {cp}")
            else:
                pnumbers.add(cp)
            pn = p.get("name")
            if pn is not None:
                if not is_str(pn) or len(pn) > 15 or not PORT_NAME.match(pn) or "--" in pn or not re.search("[a-z]", pn):
                    self.p.add(d.at(f"{ppath}.name"), f"not a valid port name (<= 15 chars, a-z0-9-) (got {show(pn)})")
                elif pn in pnames:
                    self.p.add(d.at(f"{ppath}.name"), f"duplicate port name {pn!r}")
                else:
                    pnames.add(pn)
            proto = p.get("protocol", "TCP")
            if proto not in ("TCP", "UDP", "SCTP"):
                self.p.add(d.at(f"{ppath}.protocol"), f"must be TCP, UDP or SCTP (got {show(proto)})")

        # env
        env = c.get("env", [])
        env_names = set()
        if not isinstance(env, list):
            self.p.add(d.at(f"{cpath}.env"), "must be a list")
            env = []
        for i, e in enumerate(env):
            epath = f"{cpath}.env[{i}]"
            if not isinstance(e, dict):
                self.p.add(d.at(epath), "must be a mapping")
                continue
            en = e.get("name")
            if not is_str(en) or not ENV_NAME.match(en):
                self.p.add(d.at(f"{epath}.name"), f"required env var name (got {show(en)})")
            else:
                env_names.add(en)
            has_value, vf = "value" in e, e.get("valueFrom")
            if has_value and vf is not None:
                self.p.add(d.at(epath), f"{en}: value and valueFrom are exclusive")
            if has_value and not is_str(e["value"]):
                self.p.add(d.at(f"{epath}.value"), f"{en}: must be a string; quote it (got {show(e['value'])})")
            if vf is not None:
                self.check_value_from(d, f"{epath}.valueFrom", en, vf)
        for key in ("command", "args"):
            for j, a in enumerate(c.get(key) or []):
                if not is_str(a):
                    continue
                for var in VAR_REF.findall(a):
                    if var not in env_names:
                        self.p.add(d.at(f"{cpath}.{key}[{j}]"),
                                   f"$({var}) is not a declared env var of this container (Kubernetes would pass it literally)")

        # probes
        for probe in PROBES:
            pr = c.get(probe)
            if pr is None:
                if main and probe != "startupProbe":
                    self.p.add(d.at(f"{cpath}.{probe}"), "required (every served container needs readiness and liveness)")
                continue
            self.check_probe(d, f"{cpath}.{probe}", probe, pr, pnames, pnumbers)

        # resources
        res = c.get("resources")
        if main and (not isinstance(res, dict) or not isinstance(res.get("requests"), dict) or not res["requests"]):
            self.p.add(d.at(f"{cpath}.resources.requests"), "required (cpu and memory requests)")
        if isinstance(res, dict):
            for part in ("requests", "limits"):
                for k, v in (res.get(part) or {}).items():
                    if quantity_value(v) is None:
                        self.p.add(d.at(f"{cpath}.resources.{part}.{k}"), f"not a quantity (got {show(v)})")
            for k, lim in (res.get("limits") or {}).items():
                req = (res.get("requests") or {}).get(k)
                if req is not None and quantity_value(req) is not None and quantity_value(lim) is not None \
                        and quantity_value(req) > quantity_value(lim):
                    self.p.add(d.at(f"{cpath}.resources"), f"{k} request {req} exceeds its limit {lim}")

        # volume mounts
        mounts = c.get("volumeMounts", [])
        paths = set()
        for i, m in enumerate(mounts if isinstance(mounts, list) else []):
            mpath = f"{cpath}.volumeMounts[{i}]"
            mn = m.get("name") if isinstance(m, dict) else None
            if mn not in volume_names:
                self.p.add(d.at(f"{mpath}.name"), f"{mn!r} is neither a volume nor a volumeClaimTemplate of this pod ({sorted(volume_names)})")
            mp = m.get("mountPath") if isinstance(m, dict) else None
            if not is_str(mp) or not mp.startswith("/"):
                self.p.add(d.at(f"{mpath}.mountPath"), f"required absolute path (got {show(mp)})")
            elif mp in paths:
                self.p.add(d.at(f"{mpath}.mountPath"), f"{mp} mounted twice")
            else:
                paths.add(mp)

    def check_value_from(self, d, path, en, vf):
        if not isinstance(vf, dict) or len(vf) != 1:
            self.p.add(d.at(path), f"{en}: needs exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef")
            return
        (kind, ref), = vf.items()
        if kind == "secretKeyRef":
            sn, key = get(ref, "name"), get(ref, "key")
            if not is_str(sn) or not is_str(key):
                self.p.add(d.at(f"{path}.secretKeyRef"), f"{en}: name and key are required strings")
            elif sn not in self.secrets:
                if not get(ref, "optional"):
                    self.p.add(d.at(f"{path}.secretKeyRef.name"),
                               f"{en}: Secret {sn!r} is not in secret.example.yaml (known: {sorted(self.secrets)})")
            elif key not in self.secrets[sn]:
                self.p.add(d.at(f"{path}.secretKeyRef.key"), f"{en}: Secret {sn!r} has no key {key!r} (keys: {sorted(self.secrets[sn])})")
        elif kind == "configMapKeyRef":
            cn, key = get(ref, "name"), get(ref, "key")
            if cn not in self.configmaps and not get(ref, "optional"):
                self.p.add(d.at(f"{path}.configMapKeyRef.name"), f"{en}: no ConfigMap {cn!r} in the manifests")
            elif cn in self.configmaps and key not in self.configmaps[cn]:
                self.p.add(d.at(f"{path}.configMapKeyRef.key"), f"{en}: ConfigMap {cn!r} has no key {key!r}")
        elif kind == "fieldRef":
            fp = get(ref, "fieldPath")
            if not is_str(fp) or not (fp in FIELD_PATHS or re.match(r"^metadata\.(labels|annotations)\['[^']+'\]$", fp)):
                self.p.add(d.at(f"{path}.fieldRef.fieldPath"), f"{en}: unsupported fieldPath {show(fp)}")
        elif kind == "resourceFieldRef":
            if not is_str(get(ref, "resource")):
                self.p.add(d.at(f"{path}.resourceFieldRef.resource"), f"{en}: required string")
        else:
            self.p.add(d.at(path), f"{en}: unknown source {kind!r}")

    def check_probe(self, d, path, probe, pr, pnames, pnumbers):
        if not isinstance(pr, dict):
            self.p.add(d.at(path), "must be a mapping")
            return
        handlers = [h for h in PROBE_HANDLERS if h in pr]
        if len(handlers) != 1:
            self.p.add(d.at(path), f"needs exactly one of {', '.join(PROBE_HANDLERS)} (got {handlers})")
            return
        h = handlers[0]
        spec = pr[h]
        if h in ("httpGet", "tcpSocket", "grpc"):
            port = get(spec, "port")
            if is_int(port):
                if port not in pnumbers:
                    self.p.add(d.at(f"{path}.{h}.port"), f"{port} is not a containerPort of this container {sorted(pnumbers)}")
            elif is_str(port) and h != "grpc":
                if port not in pnames:
                    self.p.add(d.at(f"{path}.{h}.port"), f"{port!r} is not a port name of this container {sorted(pnames)}")
            else:
                self.p.add(d.at(f"{path}.{h}.port"), f"required port number or name (got {show(port)})")
        if h == "httpGet":
            hp = get(spec, "path", default="/")
            if not is_str(hp) or not hp.startswith("/"):
                self.p.add(d.at(f"{path}.httpGet.path"), f"must start with / (got {show(hp)})")
            scheme = get(spec, "scheme", default="HTTP")
            if scheme not in ("HTTP", "HTTPS"):
                self.p.add(d.at(f"{path}.httpGet.scheme"), f"must be HTTP or HTTPS (got {show(scheme)})")
        if h == "exec":
            cmd = get(spec, "command")
            if not isinstance(cmd, list) or not cmd or not all(is_str(x) for x in cmd):
                self.p.add(d.at(f"{path}.exec.command"), "required non-empty list of strings")
        for k, lo in (("initialDelaySeconds", 0), ("periodSeconds", 1), ("timeoutSeconds", 1),
                      ("failureThreshold", 1), ("successThreshold", 1)):
            if k in pr and (not is_int(pr[k]) or pr[k] < lo):
                self.p.add(d.at(f"{path}.{k}"), f"must be an integer >= {lo} (got {show(pr[k])})")
        if probe != "readinessProbe" and pr.get("successThreshold", 1) != 1:
            self.p.add(d.at(f"{path}.successThreshold"), "must be 1 for liveness and startup probes")

    # ---- services
    def check_service(self, d):
        spec = d.obj.get("spec")
        if not isinstance(spec, dict):
            self.p.add(d.at("spec"), "required mapping")
            return
        typ = spec.get("type", "ClusterIP")
        if typ not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            self.p.add(d.at("spec.type"), f"unknown type {show(typ)}")
        cip = spec.get("clusterIP")
        if cip is not None and not is_str(cip):
            self.p.add(d.at("spec.clusterIP"), f"must be a string (\"None\" for headless) (got {show(cip)})")
        if cip == "None" and typ != "ClusterIP":
            self.p.add(d.at("spec.clusterIP"), f"a headless Service must be type ClusterIP (got {typ})")
        sel = spec.get("selector")
        selected = []
        if not isinstance(sel, dict) or not sel:
            self.p.add(d.at("spec.selector"), "required non-empty mapping (these manifests have no manual Endpoints)")
        else:
            self.check_string_map(d, "spec.selector", sel, labels=True)
            selected = self.workloads_selected_by(sel)
            if not selected:
                self.p.add(d.at("spec.selector"), f"{sel} matches no workload's pod template labels")
        ports = spec.get("ports")
        if not isinstance(ports, list) or not ports:
            self.p.add(d.at("spec.ports"), "required non-empty list")
            return
        names = set()
        for i, p in enumerate(ports):
            ppath = f"spec.ports[{i}]"
            if not isinstance(p, dict):
                self.p.add(d.at(ppath), "must be a mapping")
                continue
            port = p.get("port")
            if not is_int(port) or not 1 <= port <= 65535:
                self.p.add(d.at(f"{ppath}.port"), f"must be an integer 1..65535 (got {show(port)})")
            n = p.get("name")
            if len(ports) > 1 and not is_str(n):
                self.p.add(d.at(f"{ppath}.name"), "required when a Service has several ports")
            if is_str(n):
                if n in names:
                    self.p.add(d.at(f"{ppath}.name"), f"duplicate port name {n!r}")
                names.add(n)
            tp = p.get("targetPort", port)
            for w in selected:
                pnames, pnumbers = self.port_names_numbers(self.containers(w))
                if is_str(tp):
                    if tp not in pnames:
                        self.p.add(d.at(f"{ppath}.targetPort"), f"{tp!r} is not a container port name of {w.kind}/{w.name} {sorted(pnames)}")
                elif is_int(tp):
                    if tp not in pnumbers:
                        self.p.add(d.at(f"{ppath}.targetPort"), f"{tp} is not a containerPort of {w.kind}/{w.name} {sorted(pnumbers)}")
                else:
                    self.p.add(d.at(f"{ppath}.targetPort"), f"must be a port number or name (got {show(tp)})")

    # ---- PDBs
    def check_pdb(self, d):
        spec = d.obj.get("spec")
        if not isinstance(spec, dict):
            self.p.add(d.at("spec"), "required mapping")
            return
        ml = get(spec, "selector", "matchLabels")
        selected = []
        if not isinstance(ml, dict) or not ml:
            self.p.add(d.at("spec.selector.matchLabels"), "required non-empty mapping")
        else:
            selected = self.workloads_selected_by(ml)
            if not selected:
                self.p.add(d.at("spec.selector.matchLabels"), f"{ml} matches no workload's pod template labels")
        budget = [k for k in ("minAvailable", "maxUnavailable") if k in spec]
        if len(budget) != 1:
            self.p.add(d.at("spec"), f"needs exactly one of minAvailable, maxUnavailable (got {budget})")
            return
        k = budget[0]
        v = spec[k]
        if is_str(v):
            if not re.match(r"^[0-9]{1,3}%$", v) or int(v[:-1]) > 100:
                self.p.add(d.at(f"spec.{k}"), f"must be an integer or a percentage like \"50%\" (got {show(v)})")
            return
        if not is_int(v) or v < 0:
            self.p.add(d.at(f"spec.{k}"), f"must be an integer >= 0 or a percentage (got {show(v)})")
            return
        if k == "maxUnavailable" and v == 0:
            self.p.add(d.at(f"spec.{k}"), "0 blocks every voluntary eviction (node drains hang)")
        for w in selected:
            r = get(w.obj, "spec", "replicas", default=1)
            if k == "minAvailable" and is_int(r) and v >= r:
                self.p.add(d.at(f"spec.{k}"), f"{v} >= {w.kind}/{w.name} replicas {r}: blocks every voluntary eviction")

    # ---- secrets
    def secret_keys(self, d):
        keys = set()
        for part in ("data", "stringData"):
            m = d.obj.get(part)
            if isinstance(m, dict):
                keys |= {k for k in m if is_str(k)}
        return keys

    def check_secret(self, d):
        for part in ("data", "stringData"):
            m = d.obj.get(part)
            if m is None:
                continue
            if not isinstance(m, dict):
                self.p.add(d.at(part), "must be a mapping")
                continue
            for k, v in m.items():
                if not is_str(k) or not SECRET_KEY.match(k):
                    self.p.add(d.at(f"{part}.{k}"), "not a valid key (a-z A-Z 0-9 - _ .)")
                if not is_str(v):
                    self.p.add(d.at(f"{part}.{k}"), f"value must be a string (got {show(v)})")
                elif part == "data":
                    try:
                        base64.b64decode(v, validate=True)
                    except Exception:
                        self.p.add(d.at(f"{part}.{k}"), "data values must be base64 (use stringData for plain text)")
        if not self.secret_keys(d):
            self.p.add(d.at(), "a Secret without data or stringData")

    # ---- kustomization
    def check_kustomization(self):
        present = sorted(f for f in self.files if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml")
        k = self.kustomization
        where = self.where("kustomization.yaml")
        if "kustomization.yaml" not in self.files:
            self.p.add(where, "missing")
            return
        if k is None:
            return  # parse problem already reported
        if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1":
            self.p.add(f"{where} apiVersion", f"must be kustomize.config.k8s.io/v1beta1 (got {show(k.get('apiVersion'))})")
        if k.get("kind") != "Kustomization":
            self.p.add(f"{where} kind", f"must be Kustomization (got {show(k.get('kind'))})")
        res = k.get("resources")
        if not isinstance(res, list) or not all(is_str(r) for r in res):
            self.p.add(f"{where} resources", f"must be a list of file names (got {show(res)})")
            return
        if len(set(res)) != len(res):
            self.p.add(f"{where} resources", "lists a file twice")
        want = {f for f in present if not f.endswith((".example.yaml", ".example.yml"))}
        for r in res:
            if r not in self.files:
                self.p.add(f"{where} resources", f"{r!r} does not exist in {self.label}")
            elif r.endswith((".example.yaml", ".example.yml")):
                self.p.add(f"{where} resources", f"{r!r} is a template; applying it would overwrite the real object")
        for f in sorted(want - set(res)):
            self.p.add(f"{where} resources", f"{f!r} is in {self.label} but not listed")
        ns = k.get("namespace")
        if ns is not None:
            for d in self.docs:
                dns = get(d.obj, "metadata", "namespace")
                if dns is not None and dns != ns:
                    self.p.add(d.at("metadata.namespace"), f"{dns!r} differs from the kustomization namespace {ns!r}")
        images = k.get("images") or []
        used = {image_name(c.get("image")) for w in self.workloads for c in self.containers(w) if is_str(c.get("image"))}
        for i, im in enumerate(images if isinstance(images, list) else []):
            n = get(im, "name")
            if n not in used:
                self.p.add(f"{where} images[{i}].name", f"{n!r} is not an image used by the manifests ({sorted(used)})")
            for key in ("newTag", "newName", "digest"):
                if key in im and not is_str(im[key]):
                    self.p.add(f"{where} images[{i}].{key}", f"must be a string; quote it (got {show(im[key])})")


# --------------------------------------------------------------------------
# Dockerfile

def dockerfile_instructions(text):
    """[(line number, INSTRUCTION, arguments)] with continuations joined."""
    out, buf, start = [], "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comment lines inside a continued instruction
        if not buf:
            start = no
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        parts = buf.strip().split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        buf = ""
    if buf:
        parts = buf.strip().split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out


def check_dockerfile(text, k8s, p, where="deploy/docker/Dockerfile"):
    ins = dockerfile_instructions(text)
    stages = []  # [{"name", "image", "ins": [...]}]
    for no, op, args in ins:
        if op == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"name": name, "image": words[0] if words else "", "ins": [], "line": no})
        elif not stages:
            if op != "ARG":
                p.add(f"{where}:{no}", f"{op} before the first FROM")
        else:
            stages[-1]["ins"].append((no, op, args))
    if len(stages) < 2:
        p.add(where, f"must be multi-stage (a builder and a runtime stage); found {len(stages)} FROM")
        if not stages:
            return
    build, final = stages[0], stages[-1]
    if not build["image"].startswith("debian:12"):
        p.add(f"{where}:{build['line']}", f"the builder should be FROM debian:12 (got {build['image']!r})")
    if final["image"] != "debian:12-slim":
        p.add(f"{where}:{final['line']}", f"the runtime stage should be FROM debian:12-slim (got {final['image']!r})")
    build_runs = " ".join(a for _, op, a in build["ins"] if op == "RUN")
    for script in ("scripts/install-deps.sh", "scripts/build.sh"):
        if script not in build_runs:
            p.add(where, f"the builder stage does not run {script}")

    names = [s["name"] for s in stages]
    for si, s in enumerate(stages):
        for no, op, args in s["ins"]:
            m = re.search(r"--from=(\S+)", args) if op == "COPY" else None
            if m:
                ref = m.group(1).lower()
                if not (ref in names[:si] or (ref.isdigit() and int(ref) < si)):
                    p.add(f"{where}:{no}", f"COPY --from={ref} names no earlier stage ({[n for n in names[:si] if n]})")

    fin = final["ins"]

    def last(op):
        found = [(no, a) for no, o, a in fin if o == op]
        return found[-1] if found else (None, None)

    no, user = last("USER")
    if user is None:
        p.add(where, "the runtime stage has no USER (it would run as root)")
    elif user.split(":")[0].strip() in ("root", "0"):
        p.add(f"{where}:{no}", f"USER {user} is root")
    no, ep = last("ENTRYPOINT")
    if ep is None:
        p.add(where, "the runtime stage has no ENTRYPOINT")
    else:
        try:
            epv = json.loads(ep)
        except ValueError:
            epv = None
        if not isinstance(epv, list) or not epv or not str(epv[0]).endswith("tt-node"):
            p.add(f"{where}:{no}", f"ENTRYPOINT must be the exec form [\"tt-node\", ...] (got {ep})")
    exposed = set()
    for _, op, a in fin:
        if op == "EXPOSE":
            for w in a.split():
                m = re.match(r"^(\d+)(/(tcp|udp))?$", w)
                if m:
                    exposed.add(int(m.group(1)))
                else:
                    p.add(where, f"EXPOSE {w!r} is not a port")
    if not exposed:
        p.add(where, "the runtime stage EXPOSEs no port")
    for _, op, a in fin:
        if op == "RUN" and "apt-get install" in a:
            dev = sorted(set(re.findall(r"\b[a-z0-9.+-]+-dev\b", a)))
            if dev:
                p.add(where, f"the runtime stage installs development packages {dev}")

    # Cross-check with the Kubernetes workloads that run this image.
    tt_containers = [(w, c) for w in (k8s.workloads if k8s else []) for c in k8s.containers(w)
                     if is_str(c.get("image")) and image_name(c["image"]).endswith("tt-node")]
    for w, c in tt_containers:
        for port in c.get("ports") or []:
            cp = port.get("containerPort") if isinstance(port, dict) else None
            if is_int(cp) and exposed and cp not in exposed:
                p.add(where, f"EXPOSE lacks {cp}, a containerPort of {w.kind}/{w.name} container {c.get('name')}")

    no, hc = last("HEALTHCHECK")
    has_hc = hc is not None and hc.strip().upper() != "NONE"
    if has_hc and "/healthz" not in hc:
        p.add(f"{where}:{no}", "HEALTHCHECK does not ask /healthz")

    def probe_on_healthz(c, probe):
        return get(c, probe, "httpGet", "path") == "/healthz"
    probes_cover = bool(tt_containers) and all(
        probe_on_healthz(c, "readinessProbe") and probe_on_healthz(c, "livenessProbe") for _, c in tt_containers)
    if not has_hc and not probes_cover:
        p.add(where, "no HEALTHCHECK, and no Kubernetes tt-node container has readiness and liveness probes on /healthz")


# --------------------------------------------------------------------------
# deploy/local/cluster.sh

def check_launcher(path, p, where="deploy/local/cluster.sh"):
    if not os.path.isfile(path):
        p.add(where, "missing")
        return
    if not os.access(path, os.X_OK):
        p.add(where, "not executable (chmod +x)")
    bash = shutil.which("bash") or "/bin/bash"

    def run(args, what):
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            p.add(where, f"{what} did not finish within 30 s")
            return None
        return r

    r = run([bash, "-n", path], "bash -n")
    if r is not None and r.returncode != 0:
        p.add(where, f"bash -n fails: {r.stderr.strip()}")
    r = run([bash, path, "--help"], "--help")
    if r is not None:
        if r.returncode != 0:
            p.add(where, f"--help exits {r.returncode}: {r.stderr.strip()}")
        elif "Usage" not in r.stdout:
            p.add(where, "--help prints no Usage on stdout")
    sc = shutil.which("shellcheck")
    if sc:
        r = run([sc, path], "shellcheck")
        if r is not None and r.returncode != 0:
            first = [ln for ln in r.stdout.splitlines() if ln.strip()][:6]
            p.add(where, "shellcheck reports problems:\n    " + "\n    ".join(first))


# --------------------------------------------------------------------------
# kubectl kustomize (offline render) when kubectl is installed

def check_kustomize_render(k8s_dir, p):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return
    try:
        r = subprocess.run([kubectl, "kustomize", k8s_dir], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        p.add("deploy/k8s/kustomization.yaml", "`kubectl kustomize` did not finish within 30 s")
        return
    if r.returncode != 0:
        p.add("deploy/k8s/kustomization.yaml", "`kubectl kustomize` fails: " + " ".join(r.stderr.split())[:400])


# --------------------------------------------------------------------------
# the real run

def read_k8s_dir(k8s_dir):
    files = {}
    for f in sorted(os.listdir(k8s_dir)):
        full = os.path.join(k8s_dir, f)
        if os.path.isfile(full) and f.endswith((".yaml", ".yml")):
            with open(full, encoding="utf-8") as fh:
                files[f] = fh.read()
    return files


def validate_repo(root):
    p = Problems()
    k8s_dir = os.path.join(root, "deploy", "k8s")
    k8s = None
    if not os.path.isdir(k8s_dir):
        p.add("deploy/k8s", "missing directory")
    else:
        files = read_k8s_dir(k8s_dir)
        if not files:
            p.add("deploy/k8s", "no YAML files")
        k8s = K8sCheck(files)
        k8s.p = p
        k8s.run()
        check_kustomize_render(k8s_dir, p)
    dockerfile = os.path.join(root, "deploy", "docker", "Dockerfile")
    if os.path.isfile(dockerfile):
        with open(dockerfile, encoding="utf-8") as fh:
            check_dockerfile(fh.read(), k8s, p)
    else:
        p.add("deploy/docker/Dockerfile", "missing")
    check_launcher(os.path.join(root, "deploy", "local", "cluster.sh"), p)
    return p, k8s


# --------------------------------------------------------------------------
# self-test: a small valid set, then one defect at a time

BASE_APP = """
apiVersion: v1
kind: Service
metadata: {name: app-peers}
spec:
  clusterIP: None
  selector: {app: app}
  ports: [{name: peer, port: 7000, targetPort: peer}]
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  selector: {app: app}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: app}
spec:
  serviceName: app-peers
  replicas: 3
  selector: {matchLabels: {app: app}}
  template:
    metadata:
      labels: {app: app, tier: x}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /metrics}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: app
          image: example/tt-node:1
          args: ["--node-name=$(POD_NAME)", "--cluster-size=3"]
          env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: TT_ADMIN_SECRET, valueFrom: {secretKeyRef: {name: admin, key: admin-secret}}}
          ports:
            - {name: http, containerPort: 8080}
            - {name: peer, containerPort: 7000}
          readinessProbe: {httpGet: {path: /healthz, port: http}}
          livenessProbe: {httpGet: {path: /healthz, port: 8080}}
          resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 1Gi}}
          volumeMounts:
            - {name: data, mountPath: /data}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - {name: tmp, emptyDir: {}}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: app}}
"""

BASE_SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: admin}
type: Opaque
stringData: {admin-secret: change-me}
"""

BASE_KUSTOMIZATION = """
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [app.yaml]
images: [{name: example/tt-node, newTag: "2"}]
"""

BASE_DOCKERFILE = """\
FROM debian:12 AS build
RUN ./scripts/install-deps.sh && ./scripts/build.sh
FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends librocksdb7.8
COPY --from=build /src/build/nodes/tt-node /usr/local/bin/
USER 10001
EXPOSE 8080 7000
HEALTHCHECK CMD ["bash", "-c", "GET /healthz"]
ENTRYPOINT ["tt-node"]
"""


def _docs(text):
    return list(yaml.safe_load_all(text))


def _find(docs, kind, name=None):
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    raise KeyError(kind)


def _container(docs):
    return _find(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]


def self_test():
    def run(app=None, secret=None, kust=None, raw=None, dockerfile=BASE_DOCKERFILE):
        files = {
            "app.yaml": yaml.safe_dump_all(app if app is not None else _docs(BASE_APP), sort_keys=False),
            "secret.example.yaml": yaml.safe_dump_all(secret if secret is not None else _docs(BASE_SECRET)),
            "kustomization.yaml": yaml.safe_dump(kust if kust is not None else yaml.safe_load(BASE_KUSTOMIZATION)),
        }
        files.update(raw or {})
        k = K8sCheck(files, label="mem")
        p = k.run()
        check_dockerfile(dockerfile, k, p, where="mem/Dockerfile")
        return p.items

    def mutate_app(fn):
        docs = _docs(BASE_APP)
        fn(docs)
        return dict(app=docs)

    def mutate_kust(fn):
        k = yaml.safe_load(BASE_KUSTOMIZATION)
        fn(k)
        return dict(kust=k)

    def sts(docs):
        return _find(docs, "StatefulSet")

    def pdb_min_available_3(docs):
        spec = _find(docs, "PodDisruptionBudget")["spec"]
        spec.pop("maxUnavailable")
        spec["minAvailable"] = 3
    cases = [
        ("YAML that does not parse", dict(raw={"app.yaml": "kind: Service\nmetadata: {name: [\n"}), "does not parse"),
        ("missing metadata.name", mutate_app(lambda d: _find(d, "PodDisruptionBudget")["metadata"].pop("name")), "metadata.name"),
        ("unknown kind", mutate_app(lambda d: d.append({"apiVersion": "apps/v1", "kind": "Statefulset", "metadata": {"name": "x"}})), "unknown kind"),
        ("wrong apiVersion", mutate_app(lambda d: _find(d, "PodDisruptionBudget").update(apiVersion="policy/v1beta1")), "apiVersion"),
        ("replicas not an integer", mutate_app(lambda d: sts(d)["spec"].update(replicas="3")), "spec.replicas"),
        ("--cluster-size above replicas", mutate_app(lambda d: sts(d)["spec"].update(replicas=2)), "exceeds replicas 2"),
        ("serviceName unknown", mutate_app(lambda d: sts(d)["spec"].update(serviceName="nope")), "no Service 'nope'"),
        ("serviceName not headless", mutate_app(lambda d: _find(d, "Service", "app-peers")["spec"].pop("clusterIP")), "not headless"),
        ("selector not a subset of template labels", mutate_app(lambda d: sts(d)["spec"]["selector"]["matchLabels"].update(app="other")), "subset"),
        ("containerPort is a string", mutate_app(lambda d: _container(d)["ports"][1].update(containerPort="7000")), "containerPort"),
        ("container without image", mutate_app(lambda d: _container(d).pop("image")), ".image"),
        ("container without ports", mutate_app(lambda d: _container(d).pop("ports")), "containers[0].ports: required"),
        ("probe on an undeclared port name", mutate_app(lambda d: _container(d)["readinessProbe"]["httpGet"].update(port="admin")), "readinessProbe.httpGet.port"),
        ("probe on an undeclared port number", mutate_app(lambda d: _container(d)["livenessProbe"]["httpGet"].update(port=9999)), "livenessProbe.httpGet.port"),
        ("no liveness probe", mutate_app(lambda d: _container(d).pop("livenessProbe")), "livenessProbe: required"),
        ("volumeMount without a volume", mutate_app(lambda d: _container(d)["volumeMounts"].append({"name": "cache", "mountPath": "/cache"})), "'cache' is neither"),
        ("secretKeyRef to an unknown Secret", mutate_app(lambda d: _container(d)["env"][1]["valueFrom"]["secretKeyRef"].update(name="other")), "not in secret.example.yaml"),
        ("secretKeyRef to an unknown key", mutate_app(lambda d: _container(d)["env"][1]["valueFrom"]["secretKeyRef"].update(key="nokey")), "has no key"),
        ("$(VAR) not declared", mutate_app(lambda d: _container(d)["args"].append("--x=$(POD_NAMESPACE)")), "$(POD_NAMESPACE)"),
        ("annotation is not a string", mutate_app(lambda d: sts(d)["spec"]["template"]["metadata"]["annotations"].update({"prometheus.io/port": 8080})), "prometheus.io/port"),
        ("Service selects nothing", mutate_app(lambda d: _find(d, "Service", "app")["spec"].update(selector={"app": "ghost"})), "matches no workload"),
        ("Service targetPort unknown", mutate_app(lambda d: _find(d, "Service", "app")["spec"]["ports"][0].update(targetPort="web")), "targetPort"),
        ("PDB selects nothing", mutate_app(lambda d: _find(d, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].update(app="ghost")), "matches no workload"),
        ("PDB blocks every eviction", mutate_app(pdb_min_available_3), "blocks every voluntary eviction"),
        ("kustomization misses a file", dict(raw={"extra.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: extra}\n"}), "'extra.yaml' is in"),
        ("kustomization lists a missing file", mutate_kust(lambda k: k["resources"].append("gone.yaml")), "'gone.yaml' does not exist"),
        ("kustomization lists the example secret", mutate_kust(lambda k: k["resources"].append("secret.example.yaml")), "is a template"),
        ("kustomization image tag not a string", mutate_kust(lambda k: k["images"][0].update(newTag=2)), "newTag"),
        ("Dockerfile single stage", dict(dockerfile="FROM debian:12-slim\nUSER 1\nEXPOSE 8080 7000\nHEALTHCHECK CMD curl /healthz\nENTRYPOINT [\"tt-node\"]\n"), "multi-stage"),
        ("Dockerfile runs as root", dict(dockerfile=BASE_DOCKERFILE.replace("USER 10001", "USER root")), "is root"),
        ("Dockerfile does not expose the cluster port", dict(dockerfile=BASE_DOCKERFILE.replace("EXPOSE 8080 7000", "EXPOSE 8080")), "EXPOSE lacks 7000"),
        ("Dockerfile COPY --from an unknown stage", dict(dockerfile=BASE_DOCKERFILE.replace("--from=build", "--from=builder")), "names no earlier stage"),
        ("no HEALTHCHECK and probes not on /healthz", dict(
            dockerfile=BASE_DOCKERFILE.replace('HEALTHCHECK CMD ["bash", "-c", "GET /healthz"]\n', ""),
            **mutate_app(lambda d: _container(d)["readinessProbe"].update(httpGet={"path": "/", "port": "http"}))), "no HEALTHCHECK"),
        ("-dev package in the runtime stage", dict(dockerfile=BASE_DOCKERFILE.replace("librocksdb7.8", "librocksdb-dev")), "development packages"),
    ]

    failures = 0
    baseline = run()
    if baseline:
        failures += 1
        print("FAIL baseline: the valid in-memory manifests were rejected:")
        for item in baseline:
            print("    " + item)
    else:
        print("ok   baseline accepted")
    for title, kwargs, expect in cases:
        items = run(**copy.deepcopy(kwargs))
        hit = [i for i in items if expect in i]
        if hit:
            print(f"ok   rejected: {title} -> {hit[0]}")
        else:
            failures += 1
            print(f"FAIL not rejected as expected: {title} (wanted a problem containing {expect!r}); got {items}")
    # The launcher check on a script that does not parse and has no --help.
    with tempfile.TemporaryDirectory() as tmp:
        broken = os.path.join(tmp, "cluster.sh")
        with open(broken, "w", encoding="utf-8") as fh:
            fh.write("#!/usr/bin/env bash\nif true; then\n  echo unterminated\n")
        os.chmod(broken, 0o755)
        p = Problems()
        check_launcher(broken, p, where="mem/cluster.sh")
        cases.append(("launcher that does not parse", None, "bash -n fails"))
        if any("bash -n fails" in i for i in p.items):
            print(f"ok   rejected: launcher that does not parse -> {p.items[0]}")
        else:
            failures += 1
            print(f"FAIL not rejected as expected: launcher that does not parse; got {p.items}")
    print(f"deploy_manifests self-test: {len(cases) + 1 - failures}/{len(cases) + 1} passed")
    return 1 if failures else 0


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    root = os.path.abspath(root)
    p, k8s = validate_repo(root)
    n_files = len(k8s.files) if k8s else 0
    n_docs = len(k8s.docs) if k8s else 0
    for item in p.items:
        print("problem: " + item)
    print(f"deploy_manifests: {n_files} manifest files, {n_docs} objects, Dockerfile, cluster.sh: "
          f"{len(p)} problem(s)")
    return 1 if len(p) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
