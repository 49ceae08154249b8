package main

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/simulate"
)

// report prints the final metrics of a run, and where its files are.
func report(w io.Writer, s simulate.Summary, outDir string) {
	steps := "rounds"
	if s.Command == "central" {
		steps = "ALS iterations"
	}
	fmt.Fprintf(w, "\n%s: %d people, %d items; %d %s in %.1f s", s.Data, s.Users, s.Items, s.Rounds, steps, s.WallSeconds)
	if s.ClientUpdatesPerSecond > 0 {
		fmt.Fprintf(w, ", %.0f client updates/s", s.ClientUpdatesPerSecond)
	}
	if s.PeakRSSBytes > 0 {
		fmt.Fprintf(w, ", peak memory %.0f MiB", float64(s.PeakRSSBytes)/(1<<20))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "HR@10 %.4f  NDCG@10 %.4f  full ranking, %d people evaluated\n", s.HR, s.NDCG, s.EvaluatedUsers)
	fmt.Fprintf(w, "HR@10 %.4f  NDCG@10 %.4f  against %d sampled negatives\n", s.SampledHR, s.SampledNDCG, model.DefaultEvalOptions().Negatives)
	if p := s.Privacy; p != nil {
		coord := "no bound against the coordinator (it adds the noise)"
		if p.AgainstCoordinator != nil {
			coord = fmt.Sprintf("ε = %.4g against the coordinator (the worst device's rounds, no amplification)", *p.AgainstCoordinator)
		}
		fmt.Fprintf(w, "privacy: ε = %.4g against observers of the model, %s, at δ = %.3g, spent in all by %s; noise multiplier %.4g, clip norm %g; %s\n",
			p.AgainstObservers, coord, p.Delta, p.Accountant, s.NoiseMultiplier, s.ClipNorm, s.PrivacyAssumptions)
	} else if s.Command == "simulate" {
		fmt.Fprintln(w, "privacy: no differential privacy")
	}
	if s.Command == "simulate" {
		fmt.Fprintf(w, "traffic: %d bytes up per update, %d bytes down per model\n", s.UplinkBytesPerUpdate, s.DownlinkBytesPerModel)
	}
	if outDir != "" {
		fmt.Fprintf(w, "results in %s\n", filepath.Clean(outDir))
	}
}

// compare prints a federated run beside its central twin.
func compare(w io.Writer, fed, central simulate.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t HR@10\t NDCG@10\t sampled HR@10\t sampled NDCG@10\t\n")
	for _, r := range []struct {
		name string
		s    simulate.Summary
	}{{fmt.Sprintf("federated (%d rounds)", fed.Rounds), fed}, {fmt.Sprintf("central twin (%d iterations)", central.Rounds), central}} {
		fmt.Fprintf(tw, "%s\t %.4f\t %.4f\t %.4f\t %.4f\t\n", r.name, r.s.HR, r.s.NDCG, r.s.SampledHR, r.s.SampledNDCG)
	}
	tw.Flush()
	if central.HR > 0 {
		fmt.Fprintf(w, "federated / central: HR@10 %.2f×, NDCG@10 %.2f×\n", fed.HR/central.HR, fed.NDCG/central.NDCG)
	}
}
