// Package model holds Tacit's recommenders: a shared parameter vector that is
// federated, per-device local state that never leaves the device, local
// training, scoring and top-k, and the ranking metrics of the evaluation
// protocol. It does no network or file I/O.
//
// The first model is implicit matrix factorisation (MF) trained on the
// weighted implicit-ALS objective of Hu, Koren and Volinsky (2008) with item
// biases:
//
//	L = Σ_u Σ_i c_ui (y_ui − b_i − q_i·p_u)² + λ Σ_u ‖p_u‖² + λ_I (‖Q‖² + ‖b‖²)
//
// where y_ui = 1 for an item the person interacted with and 0 otherwise, and
// the confidence c_ui is 1+Alpha for positives and NegWeight for every other
// item. The sum runs over all items, so the item gradient of one person is
// dense: a device's update touches every item. Dense is not private: the
// untouched items' entries follow a formula anyone holding the model can
// evaluate, so one plain update gives away the items the person touched
// (client/attack_test.go); only a masked, noised sum hides them (DESIGN.md,
// privacy model).
//
// On a device (Ammad-ud-din et al. 2019, "Federated Collaborative
// Filtering"), p_u is solved exactly by a k×k least squares that uses the
// Gram matrix QᵀQ of the downloaded model, then the device returns the
// gradient step on (Q, b) as its update. Centrally the same objective is
// minimised by alternating exact solves (ALS): that is the central twin that
// federated runs are measured against.
//
// What an application uses: MF (NewMF, its Params, Score) and Config; on a
// device a Trainer with LocalConfig, and Prepare once per downloaded model;
// centrally TrainALS; for evaluation NewEvaluator with EvalOptions, or
// FullRank, SampledRank and HitNDCG for one person. On a device, Recommend
// ranks a person's unseen items and Explain splits any score exactly into
// the contributions of the person's past items (Hu, Koren and Volinsky
// 2008, §5).
package model
