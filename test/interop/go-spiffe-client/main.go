// A SPIFFE Workload API client nobody here wrote: go-spiffe v2's workloadapi against the agent's socket.
// It fetches the X.509 context, verifies the SVID with x509svid.Verify against the fetched bundles, and
// with -updates N prints one JSON line per X.509 context update (the test rotates between lines).
package main

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

type result struct {
	Code       string   `json:"code"`
	Message    string   `json:"message,omitempty"`
	SpiffeID   string   `json:"spiffeId,omitempty"`
	VerifiedID string   `json:"verifiedId,omitempty"`
	ChainLen   int      `json:"chainLen,omitempty"`
	Serial     string   `json:"serial,omitempty"`
	Domains    []string `json:"domains,omitempty"`
	Roots      int      `json:"roots,omitempty"`
	KeyMatches bool     `json:"keyMatches,omitempty"`
}

func emit(r result) { emitAny(r) }

func emitAny(v interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func describe(c *workloadapi.X509Context) result {
	svid := c.DefaultSVID()
	r := result{Code: "OK", SpiffeID: svid.ID.String(), ChainLen: len(svid.Certificates), Serial: hex.EncodeToString(svid.Certificates[0].SerialNumber.Bytes())}
	id, _, err := x509svid.Verify(svid.Certificates, c.Bundles)
	if err != nil {
		return result{Code: "VerifyFailed", Message: err.Error()}
	}
	r.VerifiedID = id.String()
	for _, b := range c.Bundles.Bundles() {
		r.Domains = append(r.Domains, b.TrustDomain().IDString())
		r.Roots += len(b.X509Authorities())
	}
	// The key must be the leaf's: compare the signer's public key with the certificate's.
	pub, ok := svid.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool })
	r.KeyMatches = ok && pub.Equal(svid.Certificates[0].PublicKey)
	return r
}

type watcher struct {
	left int
	done context.CancelFunc
}

func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	emit(describe(c))
	w.left--
	if w.left <= 0 {
		w.done()
	}
}

func (w *watcher) OnX509ContextWatchError(err error) {
	emit(result{Code: "WatchError", Message: err.Error()})
}

func main() {
	socket := flag.String("socket", "", "agent socket path")
	updates := flag.Int("updates", 0, "watch and print this many X.509 context updates")
	mode := flag.String("mode", "x509", "x509 | jwt | jwt-fetch | jwt-validate | mtls-server | mtls-client (modes.go)")
	flag.Parse()
	addr := workloadapi.WithAddr("unix://" + *socket)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if *mode != "x509" {
		os.Exit(runMode(ctx, *mode, addr))
	}
	if *updates > 0 {
		wctx, done := context.WithCancel(ctx)
		err := workloadapi.WatchX509Context(wctx, &watcher{left: *updates, done: done}, addr)
		if err != nil && wctx.Err() == nil {
			emit(result{Code: "Error", Message: err.Error()})
			os.Exit(1)
		}
		return
	}
	c, err := workloadapi.FetchX509Context(ctx, addr)
	if err != nil {
		emit(result{Code: "Error", Message: err.Error()})
		os.Exit(1)
	}
	r := describe(c)
	// FetchX509Bundles is a separate RPC: check it agrees.
	bundles, err := workloadapi.FetchX509Bundles(ctx, addr)
	if err != nil {
		emit(result{Code: "Error", Message: "FetchX509Bundles: " + err.Error()})
		os.Exit(1)
	}
	if bundles.Len() != len(r.Domains) {
		emit(result{Code: "BundlesDisagree", Message: fmt.Sprintf("%d bundles vs %d", bundles.Len(), len(r.Domains))})
		os.Exit(1)
	}
	emit(r)
}
