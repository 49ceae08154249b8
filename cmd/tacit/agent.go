package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
)

var agentCommand = command{
	summary: "run a device agent: train on this device's own data and take part in the coordinator's rounds",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit agent --token TOKEN --pin FINGERPRINT --person ID [flags]

Checks in with the coordinator, honours its retry windows, downloads the
model when stale, trains on the person's own interactions and uploads only
the update of the shared item weights. The person's events and vector never
leave the process. Reconnects with jittered backoff; SIGINT or SIGTERM stop
it cleanly.

The device's data is one person's interactions from --data (their latest
one held out for federated evaluation); item ids are the data set's, so the
coordinator's --items must match its catalogue.
`)
		printFlags(w, (&agentFlags{}).flagSet())
	},
	run: runAgent,
}

type agentFlags struct {
	addr, token, pin, data, person string
	verbose                        bool
}

func (o *agentFlags) flagSet() *flag.FlagSet {
	fs := newFlagSet("agent")
	fs.StringVar(&o.addr, "coordinator", "127.0.0.1:7443", "the coordinator's UDP `address`")
	fs.StringVar(&o.token, "token", "", "this device's enrolment `token` (required)")
	fs.StringVar(&o.pin, "pin", "", "SHA-256 `fingerprint` of the coordinator's certificate, as it prints it (required)")
	fs.StringVar(&o.data, "data", "", dataSpecHelp)
	fs.StringVar(&o.person, "person", "", "the `id` of the person in --data whose device this is (required)")
	fs.BoolVar(&o.verbose, "verbose", false, "log each round")
	return fs
}

func runAgent(args []string, stdout, stderr io.Writer) error {
	o := &agentFlags{}
	if err := parseFlags(o.flagSet(), args); err != nil {
		return err
	}
	switch {
	case o.token == "":
		return usageError{err: errors.New("--token is required"), hint: true}
	case o.pin == "":
		return usageError{err: errors.New("--pin is required"), hint: true}
	case o.person == "":
		return usageError{err: errors.New("--person is required"), hint: true}
	}
	tlsConf, err := tlscert.PinnedConfig(o.pin, proto.ALPN)
	if err != nil {
		return usageError{err: err}
	}
	data, err := dataset.Open(o.data)
	if err != nil {
		return usageError{err: err}
	}
	mine, err := personData(data, o.person)
	if err != nil {
		return usageError{err: err}
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	q := &client.QUIC{Addr: o.addr, TLS: tlsConf, Token: o.token}
	defer q.Close()
	fmt.Fprintf(stdout, "agent for person %s (%d training items) checking in with %s\n", o.person, len(mine.Train.Items), o.addr)
	ctx, stop := withSignals(context.Background())
	defer stop()
	err = client.NewAgent(mine, q, client.NewWorkspace(), log).Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// personData is one person's split from a data set.
func personData(data *dataset.Log, id string) (client.Data, error) {
	for u, uid := range data.UserIDs {
		if uid == id {
			s := dataset.LeaveLastOut(data)
			if s.Test[u] < 0 {
				return client.Data{}, fmt.Errorf("person %s has fewer than two interactions", id)
			}
			return client.Data{Train: model.Positives{Items: s.Train(u), Ages: s.Ages(u)}, Test: s.Test[u]}, nil
		}
	}
	return client.Data{}, fmt.Errorf("no person %q in %s", id, data.Name)
}
