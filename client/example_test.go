package client_test

import (
	"context"
	"crypto/tls"
	"log/slog"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/model"
)

// An app embeds the agent: the person's interactions stay on the device,
// and the agent takes part in rounds until the context ends.
func ExampleNewAgent() {
	coord := &client.QUIC{
		Addr:  "coordinator.example:7443",
		TLS:   &tls.Config{ServerName: "coordinator.example"}, // ALPN is set for you
		Token: "the device's enrolment token",
	}
	defer coord.Close()
	data := client.Data{
		Train: model.Positives{Items: []int32{3, 17, 42}}, // distinct, ascending
		Test:  -1,                                         // no held-out item
	}
	agent := client.NewAgent(data, coord, client.NewWorkspace(), slog.Default())
	if err := agent.Run(context.Background()); err != nil {
		slog.Error("agent stopped", "err", err)
	}
}
