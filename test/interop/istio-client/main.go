// A client of Istio's CA API written only against istio.io/api's generated code and grpc-go: it
// generates a P-256 key, builds a CSR with the SPIFFE ID as URI SAN (as istio-agent does), calls
// IstioCertificateService/CreateCertificate with a bearer token, and prints the response as JSON.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"
)

func main() {
	addr := flag.String("addr", "", "CA host:port")
	rootFile := flag.String("root", "", "PEM roots to verify the CA's serving certificate")
	serverName := flag.String("server-name", "localhost", "DNS name expected in the CA's certificate")
	tokenFile := flag.String("token-file", "", "bearer token file")
	spiffeID := flag.String("spiffe-id", "", "URI SAN to request")
	ttl := flag.Int64("ttl", 3600, "validity_duration seconds")
	loadFile := flag.String("load", "", "load mode: JSON file with [{csr, token}] to send back to back")
	concurrency := flag.Int("concurrency", 32, "load mode: callers, each on its own connection")
	seconds := flag.Float64("seconds", 5, "load mode: duration")
	flag.Parse()

	roots := x509.NewCertPool()
	rootPEM, err := os.ReadFile(*rootFile)
	check(err)
	if !roots.AppendCertsFromPEM(rootPEM) {
		check(fmt.Errorf("no roots in %s", *rootFile))
	}
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: *serverName}
	if *loadFile != "" {
		runLoad(*addr, tlsConfig, *loadFile, *concurrency, time.Duration(*seconds*float64(time.Second)))
		return
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	check(err)
	defer conn.Close()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.CertificateRequest{}
	if *spiffeID != "" {
		u, err := url.Parse(*spiffeID)
		check(err)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	check(err)
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if *tokenFile != "" {
		tok, err := os.ReadFile(*tokenFile)
		check(err)
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+string(tok))
	}
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &pb.IstioCertificateRequest{Csr: string(csr), ValidityDuration: *ttl})
	out := map[string]any{}
	if err != nil {
		st, _ := status.FromError(err)
		out["code"] = st.Code().String()
		out["message"] = st.Message()
	} else {
		out["code"] = "OK"
		out["certChain"] = resp.CertChain
	}
	check(json.NewEncoder(os.Stdout).Encode(out))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "istio-client:", err)
		os.Exit(2)
	}
}
