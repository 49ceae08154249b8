package privacy

import (
	"fmt"
	"math"
)

// AdaptiveClip moves the clip norm toward a target quantile of the update
// norms (Andrew, Thakkar, McMahan and Ramaswamy 2021), in the form TF
// Privacy implements: each round, with b̄ the noised fraction of updates
// whose norm was within the clip,
//
//	C ← C · exp(−LR · (b̄ − TargetQuantile))
//
// The count is itself differentially private: each update contributes
// 1[‖Δ‖ ≤ C] − ½ (sensitivity ½), summed with N(0, CountStd²) noise,
// drawn on the count's own grid of halves as an exact discrete Gaussian
// (a float sample added to it would leak through its floats, as central
// noise would; see the round machine's noisedSum). The
// update noise is then scaled so the round's two Gaussians together are
// one Gaussian with the configured multiplier (see UpdateNoise).
type AdaptiveClip struct {
	TargetQuantile float64 // γ: the fraction of updates that should be unclipped; default 0.5
	LR             float64 // η; default 0.2
	// CountStd is the standard deviation of the count noise; 0 means the
	// recommended expected-reports/20.
	CountStd float64
}

// Defaults fills zero fields.
func (a AdaptiveClip) Defaults(expectedReports float64) AdaptiveClip {
	if a.TargetQuantile == 0 {
		a.TargetQuantile = 0.5
	}
	if a.LR == 0 {
		a.LR = 0.2
	}
	if a.CountStd == 0 {
		a.CountStd = expectedReports / 20
	}
	return a
}

// UpdateNoise is the noise multiplier left for the updates when the count
// takes its share of the total z: z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2). It needs
// z < 2σ_b.
func (a AdaptiveClip) UpdateNoise(z float64) (float64, error) {
	if z == 0 {
		return 0, nil
	}
	if z >= 2*a.CountStd {
		return 0, fmt.Errorf("%w: adaptive clipping needs the noise multiplier %v below twice the count noise %v", ErrBadParameter, z, 2*a.CountStd)
	}
	if _, err := newDGauss(2 * a.CountStd); err != nil {
		return 0, fmt.Errorf("adaptive clipping's count noise: %w", err)
	}
	return 1 / math.Sqrt(1/(z*z)-1/(4*a.CountStd*a.CountStd)), nil
}

// Next is the clip norm after a round in which unclipped of the reports
// were within clip (before the noise), given the expected number of
// reports, drawing the count noise from noise.
// Count noise that UpdateNoise accepted cannot fail; any other is not
// drawn.
func (a AdaptiveClip) Next(clip float64, unclipped, reports int, expectedReports float64, noise *Noise) float64 {
	halves := []int64{2*int64(unclipped) - int64(reports)} // the count, in halves
	noise.AddDiscreteGaussianInt64(halves, 2*a.CountStd)
	sum := float64(halves[0]) / 2
	frac := math.Min(1, math.Max(0, sum/expectedReports+0.5))
	return clip * math.Exp(-a.LR*(frac-a.TargetQuantile))
}
