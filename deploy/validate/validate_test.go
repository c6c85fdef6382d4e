package validate

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// What each kustomization must produce. Every kustomization.yaml under deploy/ is listed
// here (TestEveryKustomizationIsValidated), so a new overlay cannot skip validation.
type target struct {
	dir     string // relative to deploy/
	sidecar string // "native", "plain", or "" when it holds no Deployment
	probe   string // "exec" (grpc_health_probe) or "grpc" (the kubelet's gRPC probe)
}

var targets = []target{
	{"kubernetes/base", "native", "exec"},
	{"kubernetes/overlays/example", "native", "exec"},
	{"kubernetes/overlays/plain-container", "plain", "exec"},
	{"kubernetes/overlays/grpc-probe", "native", "grpc"},
	{"kubernetes/overlays/fleet", "native", "exec"},
	{"kubernetes/monitoring", "", ""},
	{"alerts", "", ""},
	{"grafana", "", ""},
}

const (
	probeBinary  = "/usr/local/bin/grpc_health_probe"
	configPath   = "/etc/sluice/sluice.yaml"
	nonRootUID   = 65532
	drainMarginS = 10 // the final snapshot and the app's own shutdown, on top of the drain
)

// decoder accepts only the kinds deploy/ ships, and fails on unknown or duplicate fields.
func decoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// build runs kustomize (as a library, nothing fetched) and strictly decodes every resource.
func build(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	dec := decoder(t)
	var objs []runtime.Object
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: %s/%s: %v", dir, r.GetKind(), r.GetName(), err)
		}
		obj, _, err := dec.Decode(y, nil, nil)
		if err != nil {
			t.Errorf("%s: %s/%s does not decode strictly: %v", dir, r.GetKind(), r.GetName(), err)
			continue
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		t.Errorf("%s: builds no resources", dir)
	}
	return objs
}

func TestEveryKustomizationIsValidated(t *testing.T) {
	var found []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "kustomization.yaml" {
			rel, _ := filepath.Rel("..", filepath.Dir(path))
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, tg := range targets {
		listed = append(listed, tg.dir)
	}
	sort.Strings(found)
	sort.Strings(listed)
	if !slices.Equal(found, listed) {
		t.Fatalf("kustomizations on disk %v != validated %v: add the new one to targets", found, listed)
	}
}

func TestManifests(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.dir, func(t *testing.T) {
			objs := build(t, tg.dir)
			configMaps := map[string]*corev1.ConfigMap{}
			var deployments []*appsv1.Deployment
			var policies []*networkingv1.NetworkPolicy
			for _, obj := range objs {
				switch o := obj.(type) {
				case *corev1.ConfigMap:
					configMaps[o.Name] = o
				case *appsv1.Deployment:
					deployments = append(deployments, o)
				case *networkingv1.NetworkPolicy:
					policies = append(policies, o)
				case *monitoringv1.PrometheusRule:
					checkRules(t, o)
				}
			}
			if tg.sidecar == "" {
				if len(deployments) != 0 {
					t.Errorf("unexpected Deployments in %s", tg.dir)
				}
				return
			}
			if len(deployments) != 1 {
				t.Fatalf("want one Deployment, got %d", len(deployments))
			}
			checkPod(t, tg, deployments[0], configMaps)
			checkIngress(t, deployments[0], policies)
		})
	}
}

func TestPodMonitorSelectsTheSidecar(t *testing.T) {
	var pm *monitoringv1.PodMonitor
	for _, obj := range build(t, "kubernetes/monitoring") {
		if o, ok := obj.(*monitoringv1.PodMonitor); ok {
			pm = o
		}
	}
	if pm == nil || len(pm.Spec.PodMetricsEndpoints) == 0 {
		t.Fatal("kubernetes/monitoring: no PodMonitor with an endpoint")
	}
	sel := labels.SelectorFromSet(pm.Spec.Selector.MatchLabels)
	for _, tg := range targets {
		if tg.sidecar == "" {
			continue
		}
		for _, obj := range build(t, tg.dir) {
			d, ok := obj.(*appsv1.Deployment)
			if !ok {
				continue
			}
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("%s: the PodMonitor's selector %v misses the pod labels", tg.dir, sel)
			}
			c, _ := sluiceContainer(&d.Spec.Template.Spec)
			port := pm.Spec.PodMetricsEndpoints[0].Port
			if c == nil || port == nil || !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == *port }) {
				t.Errorf("%s: the sidecar has no port named %v", tg.dir, port)
			}
		}
	}
}

func checkRules(t *testing.T, r *monitoringv1.PrometheusRule) {
	t.Helper()
	n := 0
	for _, g := range r.Spec.Groups {
		for _, rule := range g.Rules {
			n++
			if rule.Alert == "" || rule.Expr.String() == "" {
				t.Errorf("%s: a rule without alert name or expr", g.Name)
			}
			for _, key := range []string{"summary", "runbook"} {
				if strings.TrimSpace(rule.Annotations[key]) == "" {
					t.Errorf("alert %s: no %s annotation", rule.Alert, key)
				}
			}
			if rule.Labels["severity"] == "" {
				t.Errorf("alert %s: no severity label", rule.Alert)
			}
		}
	}
	if n == 0 {
		t.Error("PrometheusRule without rules")
	}
}

// The subset of daemon/sluice/config.py that the pod spec must agree with.
type sluiceConfig struct {
	Server struct {
		Listen        []string `json:"listen"`
		HTTP          string   `json:"http"`
		OpenAI        *string  `json:"openai"`
		AuthTokenFile string   `json:"auth_token_file"`
		GracePeriod   *float64 `json:"grace_period_s"`
	} `json:"server"`
	Cache struct {
		SnapshotDir string `json:"snapshot_dir"`
	} `json:"cache"`
	Providers map[string]struct {
		APIKeyFile string `json:"api_key_file"`
	} `json:"providers"`
	Fleet struct {
		PasswordFile string `json:"password_file"`
	} `json:"fleet"`
}

func sluiceContainer(spec *corev1.PodSpec) (*corev1.Container, bool) {
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == "sluice" {
			return &spec.InitContainers[i], true
		}
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name == "sluice" {
			return &spec.Containers[i], false
		}
	}
	return nil, false
}

// volumeAt returns the volume mounted at the deepest mount path that contains path.
func volumeAt(spec *corev1.PodSpec, c *corev1.Container, path string) *corev1.Volume {
	best := ""
	for _, m := range c.VolumeMounts {
		if (path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")) &&
			len(m.MountPath) > len(best) {
			best = m.MountPath
		}
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == best {
			for i := range spec.Volumes {
				if spec.Volumes[i].Name == m.Name {
					return &spec.Volumes[i]
				}
			}
		}
	}
	return nil
}

func flagValues(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func checkPod(t *testing.T, tg target, d *appsv1.Deployment, configMaps map[string]*corev1.ConfigMap) {
	t.Helper()
	spec := &d.Spec.Template.Spec
	c, isInit := sluiceContainer(spec)
	if c == nil {
		t.Fatal("no container named sluice")
	}
	native := isInit && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	switch tg.sidecar {
	case "native":
		if !native || c.StartupProbe == nil {
			t.Error("want a native sidecar: an init container with restartPolicy Always and a startupProbe")
		}
	case "plain":
		if isInit || c.RestartPolicy != nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			t.Error("want a plain container without restartPolicy and with a preStop hook")
		}
	}

	// The config it runs with: the ConfigMap (generated in the same build) behind --config.
	if got := flagValues(c.Args, "--config"); !slices.Equal(got, []string{configPath}) {
		t.Fatalf("args %v: want --config %s", c.Args, configPath)
	}
	vol := volumeAt(spec, c, configPath)
	if vol == nil || vol.ConfigMap == nil || configMaps[vol.ConfigMap.Name] == nil {
		t.Fatalf("%s is not mounted from a ConfigMap of this build", configPath)
	}
	raw, ok := configMaps[vol.ConfigMap.Name].Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", vol.ConfigMap.Name, filepath.Base(configPath))
	}
	var cfg sluiceConfig
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("the ConfigMap's sluice.yaml: %v", err)
	}
	listen := cfg.Server.Listen
	if flags := flagValues(c.Args, "--listen"); len(flags) > 0 {
		listen = flags // --listen replaces server.listen
	}
	// The daemon's own validation of exactly what the pod runs: the ConfigMap plus the
	// flags. A pair it would refuse (an off-loopback listener without a token, …) fails here.
	checkConfigAccepts(t, raw, c.Args)
	tokenFile := cfg.Server.AuthTokenFile
	if flags := flagValues(c.Args, "--auth-token-file"); len(flags) > 0 {
		tokenFile = flags[len(flags)-1]
	}
	if tokenFile != "" {
		if v := volumeAt(spec, c, tokenFile); v == nil || v.Secret == nil {
			t.Errorf("the auth token file %s is not in a mounted Secret", tokenFile)
		}
	}

	// Probes: one handler each, aimed at an address the daemon listens on.
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("want readiness and liveness probes")
	}
	for name, p := range map[string]*corev1.Probe{
		"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe,
	} {
		if p != nil {
			checkProbe(t, name, p, tg.probe, listen)
		}
	}

	// The unix socket lives on an emptyDir that the app container mounts too.
	sockets := 0
	for _, addr := range listen {
		path, ok := strings.CutPrefix(addr, "unix://")
		if !ok {
			continue
		}
		sockets++
		v := volumeAt(spec, c, path)
		if v == nil || v.EmptyDir == nil {
			t.Errorf("socket %s is not on an emptyDir", path)
			continue
		}
		shared := false
		for _, other := range spec.Containers {
			if other.Name != c.Name && volumeAt(spec, &other, path) == v {
				shared = true
			}
		}
		if !shared {
			t.Errorf("no app container mounts the socket volume %s", v.Name)
		}
	}
	if sockets == 0 {
		t.Error("no unix socket to share with the app")
	}

	// Snapshots on a memory-backed, size-limited emptyDir.
	if v := volumeAt(spec, c, cfg.Cache.SnapshotDir); cfg.Cache.SnapshotDir == "" || v == nil ||
		v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit == nil {
		t.Errorf("cache.snapshot_dir %q: want an emptyDir with medium Memory and a sizeLimit", cfg.Cache.SnapshotDir)
	}

	// Provider keys from a Secret's files.
	for name, p := range cfg.Providers {
		if p.APIKeyFile == "" {
			continue
		}
		if v := volumeAt(spec, c, p.APIKeyFile); v == nil || v.Secret == nil {
			t.Errorf("providers.%s.api_key_file %s is not in a mounted Secret", name, p.APIKeyFile)
		}
	}

	// Redis' password (fleet mode) from a Secret's file too.
	if f := cfg.Fleet.PasswordFile; f != "" {
		if v := volumeAt(spec, c, f); v == nil || v.Secret == nil {
			t.Errorf("fleet.password_file %s is not in a mounted Secret", f)
		}
	}

	// Metrics: a port named metrics on the HTTP port, reachable from outside the pod.
	host, port, _ := strings.Cut(cfg.Server.HTTP, ":")
	if host == "127.0.0.1" || host == "localhost" || host == "" {
		t.Errorf("server.http %q: Prometheus cannot scrape a loopback address", cfg.Server.HTTP)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "metrics" && strconv.Itoa(int(p.ContainerPort)) == port
	}) {
		t.Errorf("no port named metrics on %s", port)
	}
	// The pod exposes the metrics port only (and gRPC where the kubelet must dial it).
	for _, p := range c.Ports {
		if p.Name != "metrics" && !(tg.probe == "grpc" && p.Name == "grpc") {
			t.Errorf("container port %s/%d: the sidecar exposes only metrics", p.Name, p.ContainerPort)
		}
	}
	// The OpenAI front spends provider money: pod-local in every shipped variant.
	openai := "127.0.0.1:9091" // config.py's default
	if cfg.Server.OpenAI != nil {
		openai = *cfg.Server.OpenAI
	}
	if flags := flagValues(c.Args, "--openai"); len(flags) > 0 {
		openai = flags[len(flags)-1]
	}
	front := openai[:max(strings.LastIndex(openai, ":"), 0)]
	if openai != "" && !strings.HasPrefix(openai, "unix://") && front != "127.0.0.1" && front != "localhost" && front != "[::1]" {
		t.Errorf("server.openai %q: keep the OpenAI front on loopback or a unix socket", openai)
	}

	checkSecurity(t, spec, c)
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}

	// The grace period covers the drain, the preStop sleep (plain form) and a margin.
	grace := 10.0
	if cfg.Server.GracePeriod != nil {
		grace = *cfg.Server.GracePeriod
	}
	need := grace + drainMarginS
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		cmd := c.Lifecycle.PreStop.Exec.Command
		if len(cmd) == 2 && cmd[0] == "sleep" {
			s, _ := strconv.ParseFloat(cmd[1], 64)
			need += s
		}
	}
	var have int64 = 30 // the API's default
	if spec.TerminationGracePeriodSeconds != nil {
		have = *spec.TerminationGracePeriodSeconds
	}
	if float64(have) < need {
		t.Errorf("terminationGracePeriodSeconds %d < %v (drain %v s + preStop + margin)", have, need, grace)
	}
}

// sluiceBinary is the daemon's CLI: SLUICE_BIN (scripts/check-deploy.sh sets it), else the
// repository's virtualenv.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SLUICE_BIN"); bin != "" {
		return bin
	}
	bin, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "sluice"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("sluice not found at %s: run `make install` or set SLUICE_BIN", bin)
	}
	return bin
}

// checkConfigAccepts runs `sluice check-config FILE ARGS...` on the ConfigMap's YAML with
// the container's arguments (less --config, which names the file).
func checkConfigAccepts(t *testing.T, raw string, args []string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(file, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	// --content-only: the key and token files exist in the pod, not here.
	cmdArgs := []string{"check-config", "--content-only", file}
	for i := 0; i < len(args); i++ {
		if args[i] == "--config" {
			i++
			continue
		}
		cmdArgs = append(cmdArgs, args[i])
	}
	out, err := exec.Command(sluiceBinary(t), cmdArgs...).CombinedOutput()
	if err != nil {
		t.Errorf("sluice check-config rejects what the pod runs (its ConfigMap with args %v): %v\n%s",
			args, err, out)
	}
}

// checkIngress: a NetworkPolicy selects the pod and admits its metrics port only.
func checkIngress(t *testing.T, d *appsv1.Deployment, policies []*networkingv1.NetworkPolicy) {
	t.Helper()
	c, _ := sluiceContainer(&d.Spec.Template.Spec)
	metrics := ""
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			metrics = strconv.Itoa(int(p.ContainerPort))
		}
	}
	selecting := 0
	for _, np := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Errorf("NetworkPolicy %s: %v", np.Name, err)
			continue
		}
		if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		selecting++
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("NetworkPolicy %s does not restrict ingress", np.Name)
		}
		for _, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule without ports admits every port", np.Name)
			}
			for _, p := range rule.Ports {
				if p.Port == nil || (p.Port.String() != "metrics" && p.Port.String() != metrics) {
					t.Errorf("NetworkPolicy %s admits port %v: only metrics (%s) should be", np.Name, p.Port, metrics)
				}
			}
		}
	}
	if selecting == 0 {
		t.Error("no NetworkPolicy selects the pod: every pod in the cluster could reach it")
	}
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, kind string, listen []string) {
	t.Helper()
	handlers := 0
	for _, set := range []bool{p.Exec != nil, p.GRPC != nil, p.HTTPGet != nil, p.TCPSocket != nil} {
		if set {
			handlers++
		}
	}
	if handlers != 1 {
		t.Errorf("%s probe: %d handlers, want exactly one", name, handlers)
		return
	}
	switch kind {
	case "exec":
		if p.Exec == nil || len(p.Exec.Command) == 0 || p.Exec.Command[0] != probeBinary {
			t.Errorf("%s probe: want exec %s", name, probeBinary)
			return
		}
		var addr string
		for _, a := range p.Exec.Command[1:] {
			if v, ok := strings.CutPrefix(a, "-addr="); ok {
				addr = v
			}
		}
		if !slices.Contains(listen, addr) {
			t.Errorf("%s probe: -addr=%s is not among the listen addresses %v", name, addr, listen)
		}
	case "grpc":
		if p.GRPC == nil {
			t.Errorf("%s probe: want the kubelet's grpc probe", name)
			return
		}
		// The kubelet dials the pod IP: the port must listen on every interface.
		want := []string{"0.0.0.0:" + strconv.Itoa(int(p.GRPC.Port)), "[::]:" + strconv.Itoa(int(p.GRPC.Port))}
		if !slices.ContainsFunc(listen, func(a string) bool { return slices.Contains(want, a) }) {
			t.Errorf("%s probe: port %d is not listened on 0.0.0.0 (%v)", name, p.GRPC.Port, listen)
		}
	}
}

func checkSecurity(t *testing.T, spec *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("sluice: no securityContext")
	}
	is := func(b *bool) bool { return b != nil && *b }
	if !is(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != nonRootUID {
		t.Errorf("want runAsNonRoot and runAsUser %d", nonRootUID)
	}
	if !is(sc.ReadOnlyRootFilesystem) {
		t.Error("want readOnlyRootFilesystem")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("want allowPrivilegeEscalation: false")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("want capabilities.drop [ALL]")
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && spec.SecurityContext != nil {
		seccomp = spec.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("want seccompProfile RuntimeDefault")
	}
}
