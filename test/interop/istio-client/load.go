package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"
)

type work struct {
	Csr   string `json:"csr"`
	Token string `json:"token"`
}

// runLoad: `concurrency` callers, each on its own connection (as agents are), calling
// CreateCertificate back to back for `d` over a pool of requests; prints counts and latencies as JSON.
func runLoad(addr string, tlsConfig *tls.Config, file string, concurrency int, d time.Duration) {
	raw, err := os.ReadFile(file)
	check(err)
	var pool []work
	check(json.Unmarshal(raw, &pool))
	clients := make([]pb.IstioCertificateServiceClient, concurrency)
	for i := range clients {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
		check(err)
		defer conn.Close()
		clients[i] = pb.NewIstioCertificateServiceClient(conn)
	}
	var next atomic.Int64
	call := func(c pb.IstioCertificateServiceClient) error {
		w := pool[int(next.Add(1))%len(pool)]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+w.Token)
		_, err := c.CreateCertificate(ctx, &pb.IstioCertificateRequest{Csr: w.Csr, ValidityDuration: 3600})
		return err
	}
	for _, c := range clients { // connect and warm up before the clock starts
		for i := 0; i < 3; i++ {
			_ = call(c)
		}
	}
	var mu sync.Mutex
	var latencies []float64
	failures := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for _, c := range clients {
		wg.Add(1)
		go func(c pb.IstioCertificateServiceClient) {
			defer wg.Done()
			var mine []float64
			for time.Now().Before(end) {
				t0 := time.Now()
				err := call(c)
				if err != nil {
					mu.Lock()
					failures[status.Code(err).String()]++
					mu.Unlock()
					continue
				}
				mine = append(mine, float64(time.Since(t0).Microseconds())/1000)
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(p / 100 * float64(len(latencies)))
		if i >= len(latencies) {
			i = len(latencies) - 1
		}
		return latencies[i]
	}
	check(json.NewEncoder(os.Stdout).Encode(map[string]any{"ok": len(latencies), "failures": failures, "elapsed": elapsed, "p50": pct(50), "p99": pct(99)}))
}
