package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tacitfl/tacit/privacy"
)

var privacyCommand = command{
	summary: "compute the ε of a training plan, or the noise a target ε needs",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit privacy epsilon --q Q --noise Z --rounds T --delta D [--accountant rdp] [--json]
       tacit privacy calibrate --epsilon E --q Q --rounds T --delta D [--accountant rdp] [--json]

epsilon    the (ε, δ) of T rounds of the Poisson-subsampled Gaussian mechanism:
           each device takes part in a round with probability Q, and the sum of
           updates clipped to norm C gets Gaussian noise of standard deviation Z·C
calibrate  the smallest noise multiplier Z whose ε after T rounds is at most E

User-level accounting, add/remove-one-device adjacency. With --json the last
line is one JSON object.
`)
		printFlags(w, (&privacyFlags{}).flagSet("privacy"))
	},
	run: runPrivacy,
}

type privacyFlags struct {
	q, noise, delta, epsilon float64
	rounds                   int
	accountant               string
	json                     bool
}

func (o *privacyFlags) flagSet(name string) *flag.FlagSet {
	fs := newFlagSet(name)
	fs.Float64Var(&o.q, "q", 0, "sampling rate: expected devices per round / population, in (0, 1]")
	fs.Float64Var(&o.noise, "noise", 0, "noise multiplier z (epsilon)")
	fs.Float64Var(&o.epsilon, "epsilon", 0, "target ε (calibrate)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds of training")
	fs.Float64Var(&o.delta, "delta", 0, "δ, in (0, 1)")
	fs.StringVar(&o.accountant, "accountant", "rdp", "accountant: rdp (Rényi DP), or pld (privacy loss distribution: tighter, slower)")
	fs.BoolVar(&o.json, "json", false, "end with one JSON object")
	return fs
}

// accountants maps --accountant to the ε of a plan and, where it has one,
// the optimal RDP order.
var accountants = map[string]func(q, z float64, rounds int, delta float64) (eps, order float64, err error){
	"rdp": func(q, z float64, rounds int, delta float64) (float64, float64, error) {
		a := privacy.NewRDP(nil)
		if err := a.ComposePoissonGaussian(q, z, rounds); err != nil {
			return 0, 0, err
		}
		return a.Epsilon(delta)
	},
	"pld": func(q, z float64, rounds int, delta float64) (float64, float64, error) {
		eps, err := privacy.PLDEpsilon(q, z, rounds, delta)
		return eps, 0, err
	},
}

func accountantNames() []string {
	var names []string
	for n := range accountants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func runPrivacy(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{err: errors.New("missing subcommand: epsilon or calibrate"), hint: true}
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "epsilon", "calibrate":
	default:
		return usageError{err: fmt.Errorf("unknown subcommand %q: want epsilon or calibrate", sub), hint: true}
	}
	o := &privacyFlags{}
	if err := parseFlags(o.flagSet("privacy "+sub), args[1:]); err != nil {
		return err
	}
	acc, ok := accountants[o.accountant]
	if !ok {
		return usageError{err: fmt.Errorf("unknown accountant %q (valid: %s)", o.accountant, strings.Join(accountantNames(), ", "))}
	}
	if !(o.delta > 0 && o.delta < 1) {
		return usageError{err: fmt.Errorf("delta must be in (0, 1), got %v", o.delta)}
	}
	out := map[string]any{"delta": o.delta, "accountant": o.accountant, "q": o.q, "rounds": o.rounds,
		"assumptions": "user-level, Poisson sampling, add/remove-one adjacency"}
	if sub == "epsilon" {
		eps, order, err := acc(o.q, o.noise, o.rounds, o.delta)
		if err != nil {
			return usageError{err: err}
		}
		out["epsilon"], out["noise_multiplier"] = eps, o.noise
		if o.accountant == "rdp" {
			out["order"] = order
		}
		fmt.Fprintf(stdout, "ε = %.6g at δ = %g after %d rounds (q = %g, noise multiplier %g, %s accountant", eps, o.delta, o.rounds, o.q, o.noise, o.accountant)
		if o.accountant == "rdp" {
			fmt.Fprintf(stdout, ", optimal order %g", order)
		}
		fmt.Fprintln(stdout, ")")
	} else {
		epsFn := func(q, z float64, rounds int, delta float64) (float64, error) {
			e, _, err := acc(q, z, rounds, delta)
			return e, err
		}
		z, err := privacy.Calibrate(epsFn, o.epsilon, o.delta, o.q, o.rounds)
		if err != nil {
			return usageError{err: err}
		}
		eps, order, _ := acc(o.q, z, o.rounds, o.delta)
		out["noise_multiplier"], out["epsilon"] = z, eps
		if o.accountant == "rdp" {
			out["order"] = order
		}
		fmt.Fprintf(stdout, "noise multiplier %.6g gives ε = %.6g ≤ %g at δ = %g after %d rounds (q = %g, %s accountant)\n", z, eps, o.epsilon, o.delta, o.rounds, o.q, o.accountant)
	}
	if o.json {
		b, _ := json.Marshal(out)
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}
