package simulate

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSweep(t *testing.T) {
	cfg := smallConfig()
	cfg.Rounds, cfg.ClientsPerRound = 4, 100
	points, err := Sweep(context.Background(), cfg, smallData(t), []float64{8, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 3 || points[0].Epsilon != 0 || points[0].Summary.Privacy != nil || points[1].Epsilon != 2 || points[2].Epsilon != 8 {
		t.Fatalf("points %+v", points)
	}
	if !(points[1].Summary.NoiseMultiplier > points[2].Summary.NoiseMultiplier) || points[1].Summary.Privacy.AgainstObservers > 2 {
		t.Fatalf("ε 2 needs more noise than ε 8: %v vs %v", points[1].Summary.NoiseMultiplier, points[2].Summary.NoiseMultiplier)
	}
	dir := t.TempDir()
	if err := WriteSweep(dir, points); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "sweep.md"))
	if !strings.Contains(string(md), "| ∞ (no DP) |") || strings.Count(string(md), "\n") != 5 {
		t.Fatalf("sweep.md:\n%s", md)
	}
	f, err := os.Open(filepath.Join(dir, "sweep.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
}
