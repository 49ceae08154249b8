// Package privacy holds Tacit's differential-privacy machinery: the
// accountants that turn rounds of the Poisson-subsampled Gaussian mechanism
// into an (ε, δ) an operator can publish, and calibration of the noise to a
// target ε, clipping (fixed and adaptive) and the noise itself. It does no
// I/O.
//
// Accounting is user-level: one round samples each device independently
// with probability q (the coordinator's hash-based Poisson selection) and
// adds Gaussian noise of standard deviation z·C to the sum of updates
// clipped to norm C, under add/remove-one-device adjacency.
//
// The RDP accountant follows Mironov, Talwar and Zhang 2019 at
// dp_accounting's default orders, with the improved RDP→(ε, δ) conversion
// (Canonne, Kamath and Steinke 2020; Asoodeh et al. 2020). For fractional
// orders it evaluates the exact series (signed binomial coefficients, as
// Opacus and TF Privacy before 2024), not dp_accounting's slightly looser
// unsigned bound; see RDPPoissonGaussian. Every published test vector in
// shared/reference/privacy-vectors.md §3.4 (a)–(d) is reproduced in the
// tests, to 1e-9 relative unless the source states otherwise.
//
// The PLD accountant (pld.go) discretizes the privacy loss distribution with
// "connect the dots" (Doroshenko et al. 2022) and composes by FFT; it is
// tighter than RDP (MNIST: 2.382 against 2.597) and matches dp_accounting's
// PLD values to about 1e-9 (§3.4 (c)–(e)). Both are upper bounds: the tests
// check RDP ≥ PLD ≥ the exact ε where it is known. Accountant follows a
// training round by round with either, keeping the history of mechanisms
// that checkpoints store.
//
// Distributed DP (distributed.go, discrete.go): under secure aggregation
// each device adds discrete Gaussian noise (an exact sampler, Canonne,
// Kamath and Steinke 2020) to its integer vector. The RDP accountant
// bounds the divergence between a round's two neighbouring outputs, the
// fewest honest survivors' noise with and without the device's own share
// (the discrete Gaussians after Kairouz, Liu and Steinke 2021), subsampled
// by Zhu and Wang 2019. The PLD accountant does not count the own share and
// refuses distributed DP (CheckDistributedAccountant); a PLD can still
// compose the rounds with the share in both neighbours as the Gaussian
// mechanism the sum is, pointwise, within a stated slack of
// (GaussianBound).
//
// What an application uses: an Accountant (NewAccountant,
// RestoreAccountant) composing Spends, as the coordinator does; RDPEpsilon,
// PLDEpsilon and DistributedDGaussEpsilon for one figure; Calibrate and
// CalibrateDistributedDGauss for a noise multiplier; ClipL2 and
// AdaptiveClip; Noise (NewNoise; NewSeededNoise in simulations only). The
// RDP and PLD types, GaussianBound and the RDP↔(ε, δ) conversions are for
// researchers checking or extending the accounting.
package privacy
