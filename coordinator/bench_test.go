package coordinator_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
)

const (
	benchDevices = 1000
	benchParams  = 1 << 18 // 1 MiB of float32 each way per device
)

// BenchmarkQUICRound is one round with 1,000 concurrent devices over
// loopback QUIC, each checking in, downloading a 1 MiB model and uploading a
// 1 MiB update, against a bare quic-go transfer of the same bytes on as many
// connections in the same run. It reports both throughputs, their ratio and
// the coordinator's peak heap (the devices run in a child process).
func BenchmarkQUICRound(b *testing.B) {
	cert, _ := tlscert.SelfSigned([]string{"127.0.0.1"})
	var ours, bare time.Duration
	var peak uint64
	for b.Loop() {
		d, p := quicRound(b, cert)
		ours += d
		peak = max(peak, p)
		bare += bareTransfer(b, cert)
	}
	bytes := float64(2 * 4 * benchParams * benchDevices * b.N)
	b.ReportMetric(bytes/ours.Seconds()/(1<<20), "MiB/s")
	b.ReportMetric(bytes/bare.Seconds()/(1<<20), "bare-MiB/s")
	b.ReportMetric(bare.Seconds()/ours.Seconds(), "ratio-to-bare")
	b.ReportMetric(float64(peak)/(1<<20), "coordinator-peak-heap-MiB")
	b.ReportMetric(0, "ns/op")
}

func quicRound(b *testing.B, cert tls.Certificate) (time.Duration, uint64) {
	ids := make([]string, benchDevices)
	tokens := map[string]string{}
	for i := range ids {
		ids[i] = fmt.Sprintf("d%d", i)
		tokens[fmt.Sprintf("token-%016d", i)] = ids[i]
	}
	params := make([]float32, benchParams)
	for i := range params {
		params[i] = float32(rand.NormFloat64() * 0.1)
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	rc := round.Config{OverSelection: 1, MinFraction: 0.5, SelectionTimeout: time.Minute, ReportWindow: time.Minute, RetryMin: time.Second, Seed: 1}
	m, err := round.NewMachine(rc, round.Parts{Population: ids, Snapshot: round.Snapshot{Params: params, SelectionKey: [32]byte{1}}, Optimizer: opt}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan round.Outcome, 1)
	svc := coordinator.NewService(m, coordinator.ServiceOptions{Watch: func(o round.Outcome) { done <- o }})
	srv, err := coordinator.NewServer(svc, coordinator.ServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Tokens: coordinator.HashTokens(tokens),
		Items: benchParams, Local: model.LocalConfig{Epochs: 1}})
	if err != nil {
		b.Fatal(err)
	}
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, pc) }()
	addr := (<-srv.Ready()).String()
	defer func() { cancel(); <-served; pc.Close() }()

	peak := make(chan uint64)
	stopWatch := make(chan struct{})
	go watchHeap(stopWatch, peak)
	start := time.Now()
	// The devices run in a child process (this test binary again), so the
	// heap watched here is the coordinator's alone.
	runDevices(b, "tacit", addr, cert)
	<-done
	elapsed := time.Since(start)
	close(stopWatch)
	return elapsed, <-peak
}

// runDevices runs BenchmarkQUICRound's devices in a child process: mode
// "tacit" speaks the protocol, "bare" moves the same bytes on plain streams.
func runDevices(b *testing.B, mode, addr string, cert tls.Certificate) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchDevices$")
	cmd.Env = append(os.Environ(), "TACIT_BENCH_DEVICES="+mode+" "+addr+" "+tlscert.Fingerprint(cert.Certificate[0]))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("devices: %v\n%s", err, out)
	}
}

// TestBenchDevices is BenchmarkQUICRound's devices when run as its child
// process; otherwise it skips.
func TestBenchDevices(t *testing.T) {
	f := strings.Fields(os.Getenv("TACIT_BENCH_DEVICES"))
	if len(f) != 3 {
		t.Skip("only as BenchmarkQUICRound's child process")
	}
	mode, addr, fp := f[0], f[1], f[2]
	pin, err := tlscert.PinnedConfig(fp, proto.ALPN)
	if err != nil {
		t.Fatal(err)
	}
	if mode == "bare" {
		bareDevices(t, addr, pin)
		return
	}
	var wg sync.WaitGroup
	for i := range benchDevices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := &client.QUIC{Addr: addr, TLS: pin, Token: fmt.Sprintf("token-%016d", i)}
			defer q.Close()
			ctx := context.Background()
			var plan *client.Plan
			for plan == nil {
				p, wait, err := q.CheckIn(ctx, -1)
				if err != nil { // the accept queue was full: retry with jitter
					time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
					continue
				}
				plan = p
				time.Sleep(wait)
			}
			model, err := q.DownloadModel(ctx, plan.ModelVersion, benchParams, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if err := q.Report(ctx, client.Upload{Round: plan.Round, Update: model, Weight: 1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// watchHeap samples the heap until stop and sends the largest it saw.
func watchHeap(stop <-chan struct{}, peak chan<- uint64) {
	var ms runtime.MemStats
	var top uint64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&ms)
		top = max(top, ms.HeapInuse)
		select {
		case <-stop:
			peak <- top
			return
		case <-t.C:
		}
	}
}

// bareTransfer moves the same bytes over plain quic-go: each device's
// connection sends 1 MiB on a stream and receives 1 MiB back, the devices
// again in a child process.
func bareTransfer(b *testing.B, cert tls.Certificate) time.Duration {
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{proto.ALPN}}
	ln, err := quic.ListenAddr("127.0.0.1:0", tlsConf, &quic.Config{MaxIncomingStreams: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, 4*benchParams)
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				str, err := conn.AcceptStream(context.Background())
				if err != nil {
					return
				}
				io.Copy(io.Discard, str)
				str.Write(payload)
				str.Close()
			}()
		}
	}()
	start := time.Now()
	runDevices(b, "bare", ln.Addr().String(), cert)
	return time.Since(start)
}

func bareDevices(t *testing.T, addr string, pin *tls.Config) {
	clientTLS := pin.Clone()
	clientTLS.NextProtos = []string{proto.ALPN}
	payload := make([]byte, 4*benchParams)
	var wg sync.WaitGroup
	for range benchDevices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn *quic.Conn
			for {
				c, err := quic.DialAddr(context.Background(), addr, clientTLS, nil)
				if err == nil {
					conn = c
					break
				}
				time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
			}
			defer conn.CloseWithError(0, "")
			str, err := conn.OpenStreamSync(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			str.Write(payload)
			str.Close()
			io.Copy(io.Discard, str)
		}()
	}
	wg.Wait()
}
