"""The chart's checks: lint, render every value set of charts/atelier/ci/, validate each object
against the Kubernetes schemas, and test what a schema cannot see (hook order, secrets outside
ConfigMaps, pod hardening, probes, selectors, refused value sets)."""

from __future__ import annotations

import base64
import collections
import os
import subprocess
import re
import tomllib
import unittest

import helm_python
import kubernetes_validate
import kubernetes_validate.utils

import values_doc
from chart import (
    CHART,
    VALUE_SETS,
    annotations,
    chart,
    containers,
    env_of,
    is_hook,
    manifest,
    named,
    pod_labels,
    pod_spec,
    render,
    values,
)

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current release.
KUBE_VERSIONS = ("1.29.0", "1.34.0")
# Custom resources: no schema in kubernetes-validate; checked by hand below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
API_PORT = 9090


def all_renders():
    """(value-set name, objects) for every value set, on install and on upgrade."""
    for name in VALUE_SETS:
        yield name, render(values(name))
        yield f"{name} (upgrade)", render(values(name), upgrade=True)


def toml_config(docs: list[dict]) -> dict:
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap" and "atelier.toml" in d["data"]]
    return tomllib.loads(config_map["data"]["atelier.toml"])


def readme_config_keys() -> set[str]:
    """The keys of the README's configuration table (`a.{b,c}` expanded)."""
    keys = set()
    for line in (CHART.parents[1] / "README.md").read_text().splitlines():
        match = re.match(r"^\| `([a-z0-9_.{},]+)` \|", line)
        if not match:
            continue
        key = match.group(1)
        if "{" in key:
            prefix, rest = key.split("{")
            keys.update(prefix + part for part in rest.rstrip("}").split(","))
        else:
            keys.add(key)
    return keys


def flatten(table: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in table.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out.add(prefix + key)
    return out


def fail_on(test: unittest.TestCase, problems: dict[str, set[str]]) -> None:
    """Fails with one line per problem, naming the value sets it appears in."""
    if problems:
        test.fail("\n" + "\n".join(f"{p}  [{', '.join(sorted(where))}]" for p, where in sorted(problems.items())))


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class Lint(unittest.TestCase):
    def test_every_value_set_lints_without_warnings(self):
        for name in VALUE_SETS:
            with self.subTest(values=name):
                report = helm_python.lint(CHART, values(name), strict=True, namespace="atelier")
                problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
                self.assertEqual(problems, [])

    def test_default_values_ask_for_the_site_settings(self):
        with self.assertRaisesRegex(helm_python.HelmError, "storage.s3.endpoint and storage.s3.bucket"):
            render({})
        s3 = values("external")["storage"]
        with self.assertRaisesRegex(helm_python.HelmError, "database.external.existingSecret is required"):
            render({"storage": s3})


class KubernetesSchemas(unittest.TestCase):
    def test_every_object_matches_the_kubernetes_schemas(self):
        problems = collections.defaultdict(set)
        for name, docs in all_renders():
            for doc in docs:
                if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
                    continue
                for version in KUBE_VERSIONS:
                    try:
                        kubernetes_validate.validate(manifest(doc), version, strict=True)
                    except kubernetes_validate.utils.ValidationError as error:
                        problem = f"{doc['_source']}: {error.message} at {'.'.join(map(str, error.absolute_path))}"
                        problems[problem].add(f"{name} on {version}")
        fail_on(self, problems)

    def test_the_service_monitor_scrapes_the_metrics_service(self):
        docs = render(values("external"))
        (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
        metrics = named(docs, "Service")["atelier-metrics"]
        self.assertTrue(selects(monitor["spec"]["selector"]["matchLabels"], metrics["metadata"]["labels"]))
        self.assertEqual(monitor["spec"]["endpoints"][0]["port"], "metrics")
        self.assertEqual(monitor["metadata"]["labels"]["release"], "prometheus")

    def test_every_object_has_the_recommended_labels(self):
        wanted = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                  "app.kubernetes.io/managed-by", "helm.sh/chart"}
        for name, docs in all_renders():
            for doc in docs:
                with self.subTest(values=name, object=f"{doc['kind']}/{doc['metadata']['name']}"):
                    self.assertLessEqual(wanted, set(doc["metadata"].get("labels", {})))
                    self.assertLessEqual(len(doc["metadata"]["name"]), 63)


class Migrations(unittest.TestCase):
    def test_the_migration_hook_runs_before_install_and_upgrade_with_the_owner_login(self):
        for name in ("external", "ingress-tls", "no-workers", "two-pools"):
            docs = render(values(name))
            hooks = [d for d in docs if is_hook(d)]
            with self.subTest(values=name):
                self.assertEqual([h["kind"] for h in hooks], ["Job"])
                (job,) = hooks
                hook = annotations(job)
                self.assertEqual(set(hook["helm.sh/hook"].split(",")), {"pre-install", "pre-upgrade"})
                self.assertLess(int(hook["helm.sh/hook-weight"]), 0)
                self.assertIn("before-hook-creation", hook["helm.sh/hook-delete-policy"])
                (container,) = job["spec"]["template"]["spec"]["containers"]
                self.assertEqual(container["args"], ["migrate"])
                self.assertIn("secretKeyRef", env_of(container)["ATELIER__DATABASE__OWNER_URL"]["valueFrom"])

    def test_the_hook_uses_nothing_the_release_has_not_made_yet(self):
        # Pre-install hooks run before the release's own objects exist.
        for name in ("external", "ingress-tls", "no-workers", "two-pools"):
            docs = render(values(name))
            made_later = {(d["kind"], d["metadata"]["name"]) for d in docs if not is_hook(d)}
            (job,) = [d for d in docs if is_hook(d)]
            spec = job["spec"]["template"]["spec"]
            used = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
            for container in containers(spec):
                for env in container.get("env") or []:
                    ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        used.add(("Secret", ref["name"]))
            for volume in spec.get("volumes") or []:
                if "configMap" in volume:
                    used.add(("ConfigMap", volume["configMap"]["name"]))
                if "secret" in volume:
                    used.add(("Secret", volume["secret"]["secretName"]))
            with self.subTest(values=name):
                self.assertEqual(used & made_later, set())

    def test_api_and_worker_pods_never_get_the_owner_login_with_an_external_database(self):
        for name in ("external", "ingress-tls", "no-workers", "two-pools"):
            for doc in render(values(name)):
                spec = pod_spec(doc)
                if spec is None or is_hook(doc):
                    continue
                for container in containers(spec):
                    with self.subTest(values=name, container=f"{doc['metadata']['name']}/{container['name']}"):
                        self.assertNotIn("ATELIER__DATABASE__OWNER_URL", env_of(container))
                        self.assertNotEqual(container.get("args"), ["migrate"])

    def test_the_bundled_database_is_migrated_by_the_api_init_container(self):
        docs = render(values("bundled"))
        self.assertEqual([d for d in docs if is_hook(d)], [])
        api = named(docs, "Deployment")["atelier-api"]["spec"]["template"]["spec"]
        (init,) = api["initContainers"]
        self.assertEqual(init["args"], ["migrate"])
        self.assertIn("ATELIER__DATABASE__OWNER_URL", env_of(init))
        self.assertNotIn("ATELIER__DATABASE__OWNER_URL", env_of(api["containers"][0]))
        statefulset = named(docs, "StatefulSet")["atelier-postgresql"]
        self.assertIn("postgres", statefulset["spec"]["template"]["spec"]["containers"][0]["image"])


class Secrets(unittest.TestCase):
    SECRET_ENV = re.compile(r"(SECRET|PASSWORD|SEAL_KEY|DATABASE__URL|OWNER_URL|ACCESS_KEY)")

    def test_no_secret_value_lands_in_a_config_map(self):
        for name, docs in all_renders():
            secrets = [base64.b64decode(v).decode() for d in docs if d["kind"] == "Secret"
                       for v in (d.get("data") or {}).values()]
            for doc in docs:
                if doc["kind"] != "ConfigMap":
                    continue
                text = "\n".join(doc["data"].values())
                with self.subTest(values=name, config_map=doc["metadata"]["name"]):
                    for secret in secrets:
                        for part in [secret, *re.findall(r":([^:@/]{8,})@", secret)]:
                            self.assertNotIn(part, text)
                    self.assertNotRegex(text, r"(?m)^\s*(jwt_secret|seal_key|secret_access_key|access_key_id"
                                              r"|owner_url|url|password)\s*=")
                    self.assertNotRegex(text, r"postgres(ql)?://[^\s:]+:[^\s@]+@")

    def test_secret_settings_come_from_secrets(self):
        for name, docs in all_renders():
            for doc in docs:
                spec = pod_spec(doc)
                if spec is None:
                    continue
                for container in containers(spec):
                    for env_name, env in env_of(container).items():
                        if self.SECRET_ENV.search(env_name):
                            with self.subTest(values=name, container=container["name"], env=env_name):
                                self.assertNotIn("value", env)
                                self.assertIn("secretKeyRef", env["valueFrom"])

    def test_generated_secrets_are_strong_and_kept(self):
        docs = render(values("external"))
        generated = named(docs, "Secret")["atelier-secrets"]
        self.assertEqual(annotations(generated)["helm.sh/resource-policy"], "keep")
        data = {k: base64.b64decode(v).decode() for k, v in generated["data"].items()}
        self.assertGreaterEqual(len(data["jwt-secret"]), 32)
        self.assertRegex(data["s3-seal-key"], r"^[0-9a-f]{64}$")
        bundled = named(render(values("bundled")), "Secret")["atelier-postgresql"]
        self.assertEqual(annotations(bundled)["helm.sh/resource-policy"], "keep")
        # `lookup` is what keeps them across upgrades (it answers nothing offline).
        for template in ("secret.yaml", "postgresql.yaml"):
            self.assertIn('lookup "v1" "Secret"', (CHART / "templates" / template).read_text())

    def test_an_existing_secret_replaces_the_generated_one(self):
        docs = render(values("ingress-tls"))
        self.assertNotIn("atelier-secrets", named(docs, "Secret"))
        api = named(docs, "Deployment")["atelier-api"]["spec"]["template"]["spec"]["containers"][0]
        ref = env_of(api)["ATELIER__AUTH__JWT_SECRET"]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref["name"], "atelier-keys")
        ref = env_of(api)["ATELIER__DATABASE__URL"]["valueFrom"]["secretKeyRef"]
        self.assertEqual((ref["name"], ref["key"]), ("atelier-database", "app-url"))


class Pods(unittest.TestCase):
    def test_every_pod_is_non_root_read_only_without_capabilities(self):
        problems = collections.defaultdict(set)
        for name, docs in all_renders():
            for doc in docs:
                spec = pod_spec(doc)
                if spec is None:
                    continue
                pod = spec.get("securityContext") or {}
                where = doc["_source"]
                checks = {
                    "runAsNonRoot": pod.get("runAsNonRoot") is True and pod.get("runAsUser") != 0,
                    "seccompProfile RuntimeDefault": (pod.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
                    "automountServiceAccountToken false": spec.get("automountServiceAccountToken") is False,
                    "enableServiceLinks false": spec.get("enableServiceLinks") is False,
                    "no host namespaces": not (spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC")),
                }
                for check in (c for c, ok in checks.items() if not ok):
                    problems[f"{where}: pod lacks {check}"].add(name)
                for container in containers(spec):
                    security = container.get("securityContext") or {}
                    checks = {
                        "readOnlyRootFilesystem": security.get("readOnlyRootFilesystem") is True,
                        "allowPrivilegeEscalation false": security.get("allowPrivilegeEscalation") is False,
                        "capabilities drop ALL only": security.get("capabilities") == {"drop": ["ALL"]},
                        "a non-root user": security.get("runAsUser") != 0,
                        "resources": "resources" in container,
                    }
                    for check in (c for c, ok in checks.items() if not ok):
                        problems[f"{where}: container {container['name']} lacks {check}"].add(name)
        fail_on(self, problems)

    def test_api_probes_point_at_healthz_and_readyz_on_the_listen_port(self):
        for name, docs in all_renders():
            api = named(docs, "Deployment")["atelier-api"]["spec"]["template"]["spec"]["containers"][0]
            ports = {p["name"]: p["containerPort"] for p in api["ports"]}
            listen = toml_config(docs)["listen"]
            with self.subTest(values=name):
                self.assertEqual(int(listen.rsplit(":", 1)[1]), API_PORT)
                for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                                    ("startupProbe", "/healthz")):
                    get = api[probe]["httpGet"]
                    self.assertEqual(get["path"], path)
                    self.assertEqual(ports.get(get["port"], get["port"]), API_PORT)

    def test_the_config_file_parses_and_uses_only_known_settings(self):
        known = readme_config_keys()
        self.assertIn("storage.s3.path_style", known)
        for name, docs in all_renders():
            with self.subTest(values=name):
                self.assertLessEqual(flatten(toml_config(docs)), known)

    def test_every_selector_finds_its_pods_and_ports(self):
        for name, docs in all_renders():
            pods = [(d, pod_labels(d), pod_spec(d)) for d in docs if pod_spec(d) is not None and not is_hook(d)]
            for doc in docs:
                kind, spec = doc["kind"], doc.get("spec") or {}
                where = dict(values=name, object=f"{kind}/{doc['metadata']['name']}")
                if kind in ("Deployment", "StatefulSet"):
                    with self.subTest(**where):
                        self.assertTrue(selects(spec["selector"]["matchLabels"], pod_labels(doc)))
                        for constraint in spec["template"]["spec"].get("topologySpreadConstraints") or []:
                            self.assertTrue(selects(constraint["labelSelector"]["matchLabels"], pod_labels(doc)))
                    continue
                selector = {"Service": lambda: spec.get("selector"),
                            "PodDisruptionBudget": lambda: spec["selector"]["matchLabels"],
                            "NetworkPolicy": lambda: spec["podSelector"]["matchLabels"]}.get(kind, lambda: None)()
                if selector is None:
                    continue
                chosen = [(d, s) for d, labels, s in pods if selects(selector, labels)]
                with self.subTest(**where):
                    self.assertTrue(chosen, "selects no pod")
                    if kind == "Service":
                        names = {p.get("name") for _, s in chosen for c in s["containers"] for p in c.get("ports", [])}
                        for port in spec["ports"]:
                            self.assertIn(port["targetPort"], names)

    def test_the_api_spreads_over_nodes_and_has_a_disruption_budget(self):
        docs = render(values("external"))
        api = named(docs, "Deployment")["atelier-api"]
        self.assertEqual(api["spec"]["replicas"], 2)
        keys = {c["topologyKey"] for c in api["spec"]["template"]["spec"]["topologySpreadConstraints"]}
        self.assertEqual(keys, {"kubernetes.io/hostname", "topology.kubernetes.io/zone"})
        self.assertIn("atelier-api", named(docs, "PodDisruptionBudget"))


def atelier_binary() -> str | None:
    """The built binary (`ATELIER_BIN`, else target/debug or target/release), if any."""
    root = CHART.parents[1]
    candidates = [os.environ.get("ATELIER_BIN"), root / "target/debug/atelier", root / "target/release/atelier"]
    return next((str(c) for c in candidates if c and os.access(c, os.X_OK)), None)


def container_env(container: dict, config_file: str) -> dict[str, str]:
    """The container's environment with stand-ins of the right shape for Secret references."""
    stand_ins = {"url": "postgresql://atelier_app:pw@db/atelier", "owner-url": "postgresql://atelier_owner:pw@db/atelier",
                 "app-url": "postgresql://atelier_app:pw@db/atelier", "migrate-url": "postgresql://atelier_owner:pw@db/atelier",
                 "jwt-secret": "j" * 48, "s3-seal-key": "ab" * 32, "setup-token": "t" * 32}
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(CHART.parents[1] / ".libtorch" / "lib"),
           # The image's own settings (deploy/container/Containerfile).
           "ATELIER__WEB__DIR": "/usr/local/share/atelier/web", "ATELIER__DATA_DIR": "/var/lib/atelier"}
    for item in container.get("env") or []:
        source = item.get("valueFrom") or {}
        if "secretKeyRef" in source:
            env[item["name"]] = stand_ins.get(source["secretKeyRef"]["key"], "stand-in")
        elif "fieldRef" in source:
            env[item["name"]] = "atelier-worker-0"
        else:
            env[item["name"]] = item["value"]
    env["ATELIER_CONFIG"] = config_file
    return env


class Binary(unittest.TestCase):
    """The built binary accepts what the chart gives each container (skipped without one)."""

    def test_the_binary_accepts_every_containers_configuration(self):
        binary = atelier_binary()
        if binary is None:
            self.skipTest("no built atelier binary")
        import tempfile
        problems = collections.defaultdict(set)
        seen = set()
        for name in VALUE_SETS:
            docs = render(values(name))
            config_map = [d for d in docs if d["kind"] == "ConfigMap" and "atelier.toml" in d["data"]][0]
            with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
                config.write(config_map["data"]["atelier.toml"])
                config.flush()
                for doc in docs:
                    spec = pod_spec(doc)
                    for container in containers(spec) if spec else []:
                        if container.get("args", [None])[0] not in ("serve", "worker", "migrate"):
                            continue
                        env = container_env(container, config.name)
                        key = (config_map["data"]["atelier.toml"], tuple(sorted(env.items())), container["name"])
                        if key[:2] in seen:
                            continue
                        seen.add(key[:2])
                        # --print-config belongs to serve; the settings and their checks are shared.
                        result = subprocess.run([binary, "serve", "--print-config"], env=env,
                                                capture_output=True, text=True, timeout=60)
                        if result.returncode != 0:
                            problems[f"{doc['_source']} {container['name']}: {result.stderr.strip()[-300:]}"].add(name)
                        elif container["name"] == "api":
                            printed = tomllib.loads(result.stdout)
                            if not printed["listen"].endswith(f":{API_PORT}") or not printed["multiuser"]:
                                problems[f"{doc['_source']}: listen {printed['listen']}"].add(name)
        fail_on(self, problems)


class Workers(unittest.TestCase):
    def test_two_pools_make_two_gpu_deployments(self):
        docs = render(values("two-pools"))
        deployments = named(docs, "Deployment")
        large, mig = deployments["atelier-worker-h100"], deployments["atelier-worker-mig"]
        self.assertEqual((large["spec"]["replicas"], mig["spec"]["replicas"]), (4, 2))
        for deployment, resource, grace in ((large, "nvidia.com/gpu", 120), (mig, "nvidia.com/mig-3g.40gb", 60)):
            spec = deployment["spec"]["template"]["spec"]
            (container,) = spec["containers"]
            self.assertEqual(container["args"], ["worker"])
            self.assertEqual(container["resources"]["limits"][resource], 1)
            self.assertEqual(env_of(container)["ATELIER__WORKER__DEVICE"]["value"], "cuda")
            self.assertEqual(spec["terminationGracePeriodSeconds"], grace)
            self.assertEqual(spec["runtimeClassName"], "nvidia")
            self.assertIn("nvidia.com/gpu", {t["key"] for t in spec["tolerations"]})
            self.assertEqual(deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 0)
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            self.assertTrue(mounts["/models/extra"]["readOnly"])
            self.assertIn("/var/lib/atelier/models", mounts)
        self.assertEqual(large["spec"]["template"]["spec"]["nodeSelector"],
                         {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"})
        self.assertEqual(large["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"], "32Gi")
        self.assertEqual(toml_config(docs)["models"]["extra_dirs"], ["/models/extra"])

    def test_workers_off_render_no_worker(self):
        docs = render(values("no-workers"))
        self.assertEqual(sorted(named(docs, "Deployment")), ["atelier-api"])
        self.assertNotIn("PersistentVolumeClaim", {d["kind"] for d in docs})


class RefusedValues(unittest.TestCase):
    def test_a_local_store_with_two_replicas_is_refused(self):
        vals = values("bundled")
        vals["api"]["replicas"] = 2
        with self.assertRaisesRegex(helm_python.HelmError, "storage.backend=local"):
            render(vals)

    def test_the_schema_rejects_misspelt_keys(self):
        base = values("external")
        typos = [
            {"replicaCount": 3},
            {"api": {"replica": 3}},
            {"storage": {"s3": {"endPoint": "https://x"}}},
            {"workers": {"pools": [{"name": "a", "devices": "cuda"}]}},
            {"workers": {"defaults": {"tolerations": [], "gpus": 2}}},
            {"ingress": {"tls": [{"secretname": "x"}]}},
            {"metrics": {"serviceMonitor": {"enable": True}}},
        ]
        for typo in typos:
            with self.subTest(typo=typo):
                merged = chart().merge_values({**base, **typo})
                with self.assertRaises(helm_python.HelmValuesError):
                    chart().validate_schema(merged)
                with self.assertRaises(helm_python.HelmError):
                    render({**base, **typo})

    def test_the_schema_rejects_wrong_types_and_values(self):
        for bad in ({"api": {"replicas": "2"}}, {"storage": {"backend": "gcs"}},
                    {"workers": {"pools": [{"name": "Big_GPU"}]}}, {"database": {"mode": "embedded"}}):
            with self.subTest(bad=bad), self.assertRaises(helm_python.HelmError):
                render({**values("external"), **bad})

    def test_every_object_in_the_schema_is_closed_and_described(self):
        def walk(node, path):
            if node.get("type") == "object" and "properties" in node:
                self.assertIs(node.get("additionalProperties"), False, path)
                for key, child in node["properties"].items():
                    walk(child, f"{path}.{key}")
            elif node.get("type") == "array" and isinstance(node.get("items"), dict):
                walk(node["items"], f"{path}[]")
            if path != "$" and "properties" not in node and not path.endswith("[]"):
                self.assertIn("description", node, path)
                self.assertTrue("type" in node or "anyOf" in node, path)

        walk(chart().schema, "$")

    def test_the_default_values_match_the_schema(self):
        chart().validate_schema(chart().merge_values({}))


class Docs(unittest.TestCase):
    def test_the_values_reference_is_in_step_with_the_schema(self):
        self.assertEqual(values_doc.current_section(), values_doc.generate(),
                         "run: .venv/bin/python tests/helm/values_doc.py --write")


if __name__ == "__main__":
    unittest.main()
