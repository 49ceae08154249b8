package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tacitfl/tacit"

// deps lists every package pkg imports, directly or not, itself excluded.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var list []string
	for _, p := range strings.Fields(string(out)) {
		if p != module+"/"+pkg {
			list = append(list, p)
		}
	}
	return list
}

func TestNothingBelowTheWireImportsIt(t *testing.T) {
	for _, pkg := range []string{"model", "dataset", "privacy", "aggregate", "aggregate/secagg", "codec", "coordinator/round"} {
		for _, d := range deps(t, pkg) {
			if d == module+"/proto" || strings.HasPrefix(d, module+"/proto/") {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
}

func TestCodecImportsNoOtherTacitPackage(t *testing.T) {
	for _, d := range deps(t, "codec") {
		if strings.HasPrefix(d, module+"/") {
			t.Errorf("codec imports %s", d)
		}
	}
}

// TestTheRoundMachineImportsNoDriver: the round machine knows nothing of
// what drives or configures it.
func TestTheRoundMachineImportsNoDriver(t *testing.T) {
	for _, d := range deps(t, "coordinator/round") {
		for _, above := range []string{"coordinator", "settings", "simulate", "client", "cmd"} {
			if d == module+"/"+above || strings.HasPrefix(d, module+"/"+above+"/") {
				t.Errorf("coordinator/round imports %s", d)
			}
		}
	}
}

// TestTheDeviceHoldsNoCoordinator: the device library, which apps embed
// and bind, carries none of the coordinator's drivers (proto brings the
// round machine's rejection table), and the agent that simulations run a
// million of carries no device store.
func TestTheDeviceHoldsNoCoordinator(t *testing.T) {
	for _, d := range deps(t, "device") {
		if d == module+"/coordinator/round" {
			continue
		}
		for _, above := range []string{"coordinator", "settings", "simulate", "cmd"} {
			if d == module+"/"+above || strings.HasPrefix(d, module+"/"+above+"/") {
				t.Errorf("device imports %s", d)
			}
		}
	}
	for _, d := range deps(t, "client") {
		if d == module+"/device" || d == "go.etcd.io/bbolt" {
			t.Errorf("client imports %s", d)
		}
	}
}
