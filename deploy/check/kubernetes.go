package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   struct{ Name string }
	Spec       struct {
		// Service
		Selector map[string]any
		Ports    []struct {
			Name, Protocol string
			TargetPort     any `yaml:"targetPort"`
		}
		// StatefulSet
		Replicas    *int
		ServiceName string `yaml:"serviceName"`
		Template    struct {
			Metadata struct{ Labels map[string]string }
			Spec     podSpec
		}
		VolumeClaimTemplates []struct{ Metadata struct{ Name string } } `yaml:"volumeClaimTemplates"`
	}
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	Containers []container
	Volumes    []struct {
		Name   string
		Secret *struct {
			SecretName string `yaml:"secretName"`
		}
	}
}

type container struct {
	Name  string
	Args  []string
	Ports []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
		Protocol      string
	}
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	StartupProbe    *probe `yaml:"startupProbe"`
	Resources       struct{ Requests, Limits map[string]any }
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port any
	} `yaml:"httpGet"`
}

// DrainSeconds is how long the coordinator may take to stop on SIGTERM:
// 30 s for the exchanges in flight, then 5 s for the HTTP server.
const DrainSeconds = 35

// KubernetesProblems checks Kubernetes manifests (YAML documents) for a
// coordinator: each document parses and names its kind; the StatefulSet
// has one replica, a governing Service, --state on a volume claim and
// --tokens on a Secret's volume, ports named quic (UDP) and http (TCP)
// that --listen and --http use, liveness and readiness (and any startup)
// probes on /healthz, requests and limits, a non-root pod with a read-only
// root filesystem and time to drain; every Service selects its pods and
// targets ports the container has.
func KubernetesProblems(b []byte) []string {
	var problems []string
	report := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return append(problems, err.Error())
		}
		if o.Kind == "" && o.APIVersion == "" {
			continue // a document of comments only
		}
		if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
			report("document %d: needs apiVersion, kind and metadata.name", len(objs)+1)
		}
		objs = append(objs, o)
	}
	services, secrets := map[string]object{}, map[string]bool{}
	for _, o := range objs {
		switch o.Kind {
		case "Service":
			services[o.Metadata.Name] = o
		case "Secret":
			secrets[o.Metadata.Name] = true
		}
	}
	var sets []object
	for _, o := range objs {
		if o.Kind == "StatefulSet" {
			sets = append(sets, o)
		}
	}
	if len(sets) != 1 {
		return append(problems, fmt.Sprintf("%d StatefulSets: one for the coordinator", len(sets)))
	}
	ss := sets[0]
	pod := ss.Spec.Template.Spec
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 {
		report("the StatefulSet needs replicas: 1 (the coordinator is one process)")
	}
	if _, ok := services[ss.Spec.ServiceName]; !ok {
		report("serviceName %q is no Service of the file", ss.Spec.ServiceName)
	}
	if !pod.SecurityContext.RunAsNonRoot {
		report("the pod needs securityContext.runAsNonRoot: true")
	}
	if pod.TerminationGracePeriodSeconds < DrainSeconds {
		report("terminationGracePeriodSeconds %d: the coordinator drains for up to %d s", pod.TerminationGracePeriodSeconds, DrainSeconds)
	}
	if len(pod.Containers) != 1 {
		return append(problems, fmt.Sprintf("%d containers: one, the coordinator", len(pod.Containers)))
	}
	c := pod.Containers[0]
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		report("the container needs readOnlyRootFilesystem: true and allowPrivilegeEscalation: false")
	}
	for _, res := range []map[string]any{c.Resources.Requests, c.Resources.Limits} {
		if res["cpu"] == nil || res["memory"] == nil {
			report("the container needs cpu and memory requests and limits")
			break
		}
	}
	for name, p := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil && name == "startup" {
			continue // optional
		}
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != "http" {
			report("the %s probe needs httpGet /healthz on port http", name)
		}
	}
	ports := map[string]string{} // name → protocol/number
	for _, p := range c.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		ports[p.Name] = proto + "/" + strconv.Itoa(p.ContainerPort)
	}
	args := map[string]string{}
	for _, a := range c.Args {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		}
	}
	for flag, port := range map[string]string{"--listen": "quic", "--http": "http"} {
		proto := map[string]string{"quic": "UDP", "http": "TCP"}[port]
		_, num, err := net.SplitHostPort(args[flag])
		if err != nil || ports[port] != proto+"/"+num {
			report("%s=%q does not match a container port %s (%s)", flag, args[flag], port, proto)
		}
	}
	mounts := map[string]string{} // volume → mount path
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	claimed := false
	for _, v := range ss.Spec.VolumeClaimTemplates {
		claimed = claimed || args["--state"] != "" && mounts[v.Metadata.Name] == path.Dir(args["--state"])
	}
	if !claimed {
		report("--state=%q is not in a volume claim's mount", args["--state"])
	}
	secret := false
	for _, v := range pod.Volumes {
		secret = secret || v.Secret != nil && secrets[v.Secret.SecretName] && args["--tokens"] != "" && mounts[v.Name] == path.Dir(args["--tokens"])
	}
	if !secret {
		report("--tokens=%q is not in the mount of a Secret of the file", args["--tokens"])
	}
	exposed := map[string]bool{}
	for name, s := range services {
		for k, v := range s.Spec.Selector {
			if ss.Spec.Template.Metadata.Labels[k] != v {
				report("Service %s selects %s=%v, which the pods do not have", name, k, v)
			}
		}
		for _, p := range s.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = "TCP"
			}
			target, _ := p.TargetPort.(string)
			if !strings.HasPrefix(ports[target], proto+"/") {
				report("Service %s port %s: targetPort %v is no %s port of the container", name, p.Name, p.TargetPort, proto)
			}
			exposed[proto+" "+target] = true
		}
	}
	if !exposed["UDP quic"] || !exposed["TCP http"] {
		report("the Services need to expose quic over UDP and http over TCP")
	}
	return problems
}
