// Command peers is the load generator of `npm run bench:peers`: one client, written in Go so that its own
// cost per call is the same whichever server it drives, sending certificate requests with distinct fresh
// P-256 keys from N concurrent callers (each on its own connection) for a fixed time, and printing one
// JSON line: successes, failures by code, p50/p99 latency, and the server's CPU time and disk writes
// over the timed part, read from /proc for the server process and every process below it.
//
// Targets:
//
//	castellan-istio  istio.v1.auth.IstioCertificateService/CreateCertificate, TLS, a fresh JWT per request
//	castellan-sign   castellan.ca.v1.CertificateAuthority/Sign, TLS, a fresh JWT per request
//	spire-batch      spire.api.server.svid.v1.SVID/BatchNewX509SVID over mTLS as an attested agent (join token)
//	spire-mint       spire.api.server.svid.v1.SVID/MintX509SVID on the admin Unix socket
//	stepca           step-ca POST /1.0/sign with a one-time JWK-provisioner token per request
//
// Everything a request carries (keys, CSRs, tokens) is made before the clock starts, so the client's
// crypto does not take CPU from the server while it is measured.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

type options struct {
	target, addr, caFile, serverName  string
	concurrency, pool, identities     int
	seconds, warmup                   float64
	pid                               int
	trustDomain, tokenKey, tokenIss   string
	tokenAud, joinToken, entries      string
	stepKey, stepKid, stepProvisioner string
	ttl                               int
	agentCache                        string
}

func main() {
	var o options
	flag.StringVar(&o.target, "target", "", "castellan-istio | castellan-sign | spire-batch | spire-mint | stepca")
	flag.StringVar(&o.addr, "addr", "", "host:port, or unix:///path for spire-mint")
	flag.StringVar(&o.caFile, "ca", "", "PEM roots the server's certificate chains to")
	flag.StringVar(&o.serverName, "server-name", "localhost", "TLS server name (castellan, stepca)")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent callers, each with its own connection")
	flag.Float64Var(&o.seconds, "seconds", 20, "timed duration")
	flag.Float64Var(&o.warmup, "warmup", 1, "untimed warm-up before the clock starts, seconds")
	flag.IntVar(&o.pool, "pool", 0, "distinct requests made in advance (default: 4000/s x seconds); reused round-robin if the run needs more")
	flag.IntVar(&o.identities, "identities", 1000, "distinct workload identities (service accounts) the requests spread over")
	flag.IntVar(&o.pid, "pid", 0, "server process whose CPU time and disk writes (with its descendants) are measured")
	flag.StringVar(&o.trustDomain, "trust-domain", "cluster.local", "trust domain of the requested identities")
	flag.StringVar(&o.tokenKey, "token-key", "", "castellan: PEM private key of the token issuer (the CA's dev issuer, or a JWKS issuer)")
	flag.StringVar(&o.tokenIss, "token-iss", "https://dev-issuer.castellan.local", "castellan: token issuer")
	flag.StringVar(&o.tokenAud, "token-aud", "castellan", "castellan: token audience")
	flag.StringVar(&o.joinToken, "join-token", "", "spire-batch: join token to attest with")
	flag.StringVar(&o.agentCache, "agent-cache", "", "spire-batch: file keeping the attested agent's SVID and key between runs (a join token works once)")
	flag.StringVar(&o.entries, "entries", "", "spire-batch: comma-separated registration entry IDs parented by the attested agent")
	flag.StringVar(&o.stepKey, "step-key", "", "stepca: PEM private key of the JWK provisioner")
	flag.StringVar(&o.stepKid, "step-kid", "", "stepca: kid of the JWK provisioner")
	flag.StringVar(&o.stepProvisioner, "step-provisioner", "bench", "stepca: provisioner name")
	flag.IntVar(&o.ttl, "ttl", 3600, "requested certificate lifetime, seconds")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// caller sends one prepared request (index i of the pool) and returns the gRPC status code (0: OK).
type caller func(ctx context.Context, i int) codes.Code

type result struct {
	Target     string         `json:"target"`
	OK         int            `json:"ok"`
	Failures   map[string]int `json:"failures"`
	Elapsed    float64        `json:"elapsed"`
	P50        float64        `json:"p50"`
	P99        float64        `json:"p99"`
	CPUSeconds float64        `json:"cpuSeconds"`
	MainThread float64        `json:"mainThreadCpuSeconds"`
	ClientCPU  float64        `json:"clientCpuSeconds"`
	WriteBytes int64          `json:"writeBytes"`
	Reused     int            `json:"reused"`
	Pool       int            `json:"pool"`
}

func run(o options) error {
	if o.pool == 0 {
		o.pool = int(4000 * (o.seconds + o.warmup))
	}
	callers, err := setup(o)
	if err != nil {
		return err
	}
	var next atomic.Int64
	take := func() int { return int(next.Add(1)-1) % o.pool }
	ctx := context.Background()
	// Warm-up: connections, handshakes and the servers' caches, untimed.
	end := time.Now().Add(time.Duration(o.warmup * float64(time.Second)))
	var wg sync.WaitGroup
	for _, c := range callers {
		wg.Add(1)
		go func(c caller) {
			defer wg.Done()
			for n := 0; n < 3 || time.Now().Before(end); n++ {
				c(ctx, take())
			}
		}(c)
	}
	wg.Wait()

	cpu0, io0 := procTree(o.pid)
	main0 := threadCPU(o.pid)
	client0, _ := procTree(os.Getpid())
	start := time.Now()
	end = start.Add(time.Duration(o.seconds * float64(time.Second)))
	lat := make([][]float64, len(callers))
	fails := make([]map[codes.Code]int, len(callers))
	for k, c := range callers {
		wg.Add(1)
		go func(k int, c caller) {
			defer wg.Done()
			fails[k] = map[codes.Code]int{}
			for time.Now().Before(end) {
				t0 := time.Now()
				if code := c(ctx, take()); code == codes.OK {
					lat[k] = append(lat[k], float64(time.Since(t0).Microseconds())/1000)
				} else {
					fails[k][code]++
				}
			}
		}(k, c)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu1, io1 := procTree(o.pid)
	main1 := threadCPU(o.pid)
	client1, _ := procTree(os.Getpid())
	var all []float64
	r := result{Target: o.target, Failures: map[string]int{}, Elapsed: elapsed, Pool: o.pool}
	for k := range callers {
		all = append(all, lat[k]...)
		for code, n := range fails[k] {
			r.Failures[code.String()] += n
		}
	}
	sort.Float64s(all)
	r.OK = len(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p / 100 * float64(len(all)))
		if i >= len(all) {
			i = len(all) - 1
		}
		return all[i]
	}
	r.P50, r.P99 = pct(50), pct(99)
	r.CPUSeconds = cpu1 - cpu0
	r.MainThread = main1 - main0
	r.ClientCPU = client1 - client0
	r.WriteBytes = io1 - io0
	if used := int(next.Load()); used > o.pool {
		r.Reused = used - o.pool
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// procTree sums CPU seconds (user+system, all threads) and bytes written to storage by pid and every
// live process below it (cluster workers, threads are included in their process's figures).
func procTree(pid int) (float64, int64) {
	if pid == 0 {
		return 0, 0
	}
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	stats := map[int][]string{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		stats[p] = f
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	tick := 100.0 // USER_HZ on Linux
	var cpu float64
	var written int64
	var walk func(int)
	walk = func(p int) {
		if f, ok := stats[p]; ok {
			u, _ := strconv.ParseFloat(f[11], 64)
			s, _ := strconv.ParseFloat(f[12], 64)
			cpu += (u + s) / tick
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p)); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
						n, _ := strconv.ParseInt(v, 10, 64)
						written += n
					}
				}
			}
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return cpu, written
}

// threadCPU is the CPU seconds of the server's main thread alone (for Node: the event loop).
func threadCPU(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// ---- requests made in advance -------------------------------------------------------------------

type prepared struct {
	csrDER []byte
	csrPEM string
	token  string
}

// prepare makes `n` distinct keys and CSRs (and whatever token each needs), on every core, before the clock.
func prepare(n int, makeOne func(i int) (prepared, error)) ([]prepared, error) {
	out := make([]prepared, n)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				p, err := makeOne(i)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				out[i] = p
			}
		}(w)
	}
	wg.Wait()
	return out, firstErr
}

func newCSR(uri string, cn string, dns []string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			return nil, err
		}
		tpl.URIs = []*url.URL{u}
	}
	return x509.CreateCertificateRequest(rand.Reader, tpl, key)
}

func pemOf(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func readKey(file string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(blk.Bytes); err2 == nil {
			return ek, nil
		}
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an EC key", file)
	}
	return ek, nil
}

// jwk thumbprint (RFC 7638) of a P-256 public key: the dev issuer's kid.
func thumbprint(pub *ecdsa.PublicKey) string {
	b, _ := pub.Bytes() // 0x04 || X || Y
	x := base64.RawURLEncoding.EncodeToString(b[1:33])
	y := base64.RawURLEncoding.EncodeToString(b[33:65])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// es256 signs a compact JWS of the header and claims.
func es256(key *ecdsa.PrivateKey, header, claims map[string]any) (string, error) {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// A Kubernetes projected service-account token (the claims kube-apiserver writes), fresh per request.
func serviceAccountToken(key *ecdsa.PrivateKey, kid, iss, aud, ns, sa string) (string, error) {
	now := time.Now().Unix()
	return es256(key, map[string]any{"alg": "ES256", "kid": kid, "typ": "JWT"}, map[string]any{
		"iss": iss, "aud": []string{aud}, "sub": "system:serviceaccount:" + ns + ":" + sa,
		"iat": now, "nbf": now, "exp": now + 3600, "jti": randomHex(16),
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"serviceaccount": map[string]any{"name": sa, "uid": "00000000-0000-0000-0000-" + randomHex(6)},
			"pod":            map[string]any{"name": sa + "-" + randomHex(4), "uid": randomHex(16)},
		},
	})
}

// ---- targets ------------------------------------------------------------------------------------

func setup(o options) ([]caller, error) {
	switch o.target {
	case "castellan-istio", "castellan-sign":
		return setupCastellan(o)
	case "spire-batch":
		return setupSpireBatch(o)
	case "spire-mint":
		return setupSpireMint(o)
	case "stepca":
		return setupStepCa(o)
	}
	return nil, fmt.Errorf("unknown -target %q", o.target)
}

func rootPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// rawCodec sends and receives protobuf bytes as they are: the Castellan requests are two fields, encoded
// with protowire, so the load generator needs no generated code for Castellan's or Istio's protos.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

func setupCastellan(o options) ([]caller, error) {
	key, err := readKey(o.tokenKey)
	if err != nil {
		return nil, fmt.Errorf("-token-key: %w", err)
	}
	kid := thumbprint(&key.PublicKey)
	reqs, err := prepare(o.pool, func(i int) (prepared, error) {
		sa := fmt.Sprintf("sa-%d", i%o.identities)
		der, err := newCSR(fmt.Sprintf("spiffe://%s/ns/bench/sa/%s", o.trustDomain, sa), "", nil)
		if err != nil {
			return prepared{}, err
		}
		tok, err := serviceAccountToken(key, kid, o.tokenIss, o.tokenAud, "bench", sa)
		return prepared{csrDER: der, csrPEM: pemOf("CERTIFICATE REQUEST", der), token: tok}, err
	})
	if err != nil {
		return nil, err
	}
	roots, err := rootPool(o.caFile)
	if err != nil {
		return nil, err
	}
	method := "/istio.v1.auth.IstioCertificateService/CreateCertificate"
	if o.target == "castellan-sign" {
		method = "/castellan.ca.v1.CertificateAuthority/Sign"
	}
	var out []caller
	for k := 0; k < o.concurrency; k++ {
		conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: o.serverName})))
		if err != nil {
			return nil, err
		}
		out = append(out, func(ctx context.Context, i int) codes.Code {
			r := reqs[i]
			var body []byte
			if o.target == "castellan-sign" {
				body = protowire.AppendTag(body, 1, protowire.BytesType)
				body = protowire.AppendBytes(body, r.csrDER)
				body = protowire.AppendTag(body, 2, protowire.VarintType)
				body = protowire.AppendVarint(body, uint64(o.ttl))
			} else {
				body = protowire.AppendTag(body, 1, protowire.BytesType)
				body = protowire.AppendString(body, r.csrPEM)
				body = protowire.AppendTag(body, 3, protowire.VarintType)
				body = protowire.AppendVarint(body, uint64(o.ttl))
			}
			var resp []byte
			md := metadata.Pairs("authorization", "Bearer "+r.token)
			err := conn.Invoke(metadata.NewOutgoingContext(ctx, md), method, &body, &resp, grpc.ForceCodec(rawCodec{}))
			if err == nil && len(resp) < 200 {
				return codes.DataLoss
			}
			return status.Code(err)
		})
	}
	return out, nil
}

// spireTLS: the SPIRE server's certificate carries only its SPIFFE ID, so the chain is verified against
// the bundle without a host name.
func spireTLS(roots *x509.CertPool, client *tls.Certificate) *tls.Config {
	c := &tls.Config{
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, len(raw))
			for i, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs[i] = c
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			return err
		},
	}
	if client != nil {
		c.Certificates = []tls.Certificate{*client}
	}
	return c
}

// attest runs join-token node attestation (spire.api.server.agent.v1.Agent/AttestAgent) and returns
// the agent's X509-SVID as a TLS client certificate, as spire-agent does at its start.
func attest(o options, roots *x509.CertPool) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(credentials.NewTLS(spireTLS(roots, nil))))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := agentv1.NewAgentClient(conn).AttestAgent(ctx)
	if err != nil {
		return nil, err
	}
	err = stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{Params: &agentv1.AttestAgentRequest_Params{
		Data:   &types.AttestationData{Type: "join_token", Payload: []byte(o.joinToken)},
		Params: &agentv1.AgentX509SVIDParams{Csr: csr},
	}}})
	if err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("AttestAgent: %w", err)
	}
	svid := resp.GetResult().GetSvid()
	if svid == nil || len(svid.CertChain) == 0 {
		return nil, errors.New("AttestAgent: no SVID in the answer")
	}
	return &tls.Certificate{Certificate: svid.CertChain, PrivateKey: crypto.Signer(key)}, nil
}

// cachedAgent returns the agent SVID kept in -agent-cache while it has more than five minutes left,
// else attests with the join token and keeps the new one there.
func cachedAgent(o options, roots *x509.CertPool) (*tls.Certificate, error) {
	if o.agentCache != "" {
		if b, err := os.ReadFile(o.agentCache); err == nil {
			if c, err := tls.X509KeyPair(b, b); err == nil {
				if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil && time.Until(leaf.NotAfter) > 5*time.Minute {
					return &c, nil
				}
			}
		}
	}
	c, err := attest(o, roots)
	if err != nil || o.agentCache == "" {
		return c, err
	}
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pemOf("CERTIFICATE", der)...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, err
	}
	out = append(out, pemOf("PRIVATE KEY", key)...)
	return c, os.WriteFile(o.agentCache, out, 0o600)
}

func setupSpireBatch(o options) ([]caller, error) {
	roots, err := rootPool(o.caFile)
	if err != nil {
		return nil, err
	}
	entries := strings.Split(o.entries, ",")
	if o.entries == "" || o.joinToken == "" {
		return nil, errors.New("spire-batch needs -join-token and -entries")
	}
	reqs, err := prepare(o.pool, func(i int) (prepared, error) {
		der, err := newCSR("", "", nil) // SPIRE takes only the key from the CSR; the identity is the entry's
		return prepared{csrDER: der}, err
	})
	if err != nil {
		return nil, err
	}
	cert, err := cachedAgent(o, roots)
	if err != nil {
		return nil, err
	}
	var out []caller
	for k := 0; k < o.concurrency; k++ {
		conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(credentials.NewTLS(spireTLS(roots, cert))))
		if err != nil {
			return nil, err
		}
		client := svidv1.NewSVIDClient(conn)
		out = append(out, func(ctx context.Context, i int) codes.Code {
			resp, err := client.BatchNewX509SVID(ctx, &svidv1.BatchNewX509SVIDRequest{Params: []*svidv1.NewX509SVIDParams{{EntryId: entries[i%len(entries)], Csr: reqs[i].csrDER}}})
			if err != nil {
				return status.Code(err)
			}
			if len(resp.Results) != 1 {
				return codes.DataLoss
			}
			if c := codes.Code(resp.Results[0].GetStatus().GetCode()); c != codes.OK {
				return c
			}
			if resp.Results[0].GetSvid() == nil {
				return codes.DataLoss
			}
			return codes.OK
		})
	}
	return out, nil
}

func setupSpireMint(o options) ([]caller, error) {
	reqs, err := prepare(o.pool, func(i int) (prepared, error) {
		der, err := newCSR(fmt.Sprintf("spiffe://%s/ns/bench/sa/sa-%d", o.trustDomain, i%o.identities), "", nil)
		return prepared{csrDER: der}, err
	})
	if err != nil {
		return nil, err
	}
	var out []caller
	for k := 0; k < o.concurrency; k++ {
		conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		client := svidv1.NewSVIDClient(conn)
		out = append(out, func(ctx context.Context, i int) codes.Code {
			resp, err := client.MintX509SVID(ctx, &svidv1.MintX509SVIDRequest{Csr: reqs[i].csrDER, Ttl: int32(o.ttl)})
			if err != nil {
				return status.Code(err)
			}
			if resp.GetSvid() == nil {
				return codes.DataLoss
			}
			return codes.OK
		})
	}
	return out, nil
}

func setupStepCa(o options) ([]caller, error) {
	key, err := readKey(o.stepKey)
	if err != nil {
		return nil, fmt.Errorf("-step-key: %w", err)
	}
	roots, err := rootPool(o.caFile)
	if err != nil {
		return nil, err
	}
	audience := "https://" + o.addr + "/1.0/sign"
	reqs, err := prepare(o.pool, func(i int) (prepared, error) {
		cn := fmt.Sprintf("sa-%d.bench.svc", i%o.identities)
		der, err := newCSR("", cn, []string{cn})
		if err != nil {
			return prepared{}, err
		}
		now := time.Now().Unix()
		// A one-time token of the JWK provisioner (step-ca authority/provisioner/jwk.go): the CA checks its
		// signature, audience, time window and, once, its jti.
		tok, err := es256(key, map[string]any{"alg": "ES256", "kid": o.stepKid, "typ": "JWT"}, map[string]any{
			"iss": o.stepProvisioner, "aud": audience, "sub": cn, "sans": []string{cn},
			"iat": now, "nbf": now, "exp": now + 3600, "jti": randomHex(16),
		})
		body, _ := json.Marshal(map[string]any{"csr": pemOf("CERTIFICATE REQUEST", der), "ott": tok})
		return prepared{csrPEM: string(body)}, err
	})
	if err != nil {
		return nil, err
	}
	var out []caller
	for k := 0; k < o.concurrency; k++ {
		// One connection per caller, kept alive, like the gRPC targets.
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, ServerName: o.serverName},
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DialContext:         (&net.Dialer{}).DialContext,
		}}
		out = append(out, func(ctx context.Context, i int) codes.Code {
			resp, err := client.Post(audience, "application/json", bytes.NewReader([]byte(reqs[i].csrPEM)))
			if err != nil {
				return codes.Unavailable
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 && resp.StatusCode != 200 {
				if resp.StatusCode == 401 || resp.StatusCode == 403 {
					return codes.Unauthenticated
				}
				return codes.Code(100 + resp.StatusCode/100)
			}
			if !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
				return codes.DataLoss
			}
			return codes.OK
		})
	}
	return out, nil
}
