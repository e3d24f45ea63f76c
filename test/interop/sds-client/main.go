// An SDS client nobody here wrote the types of: go-control-plane's Envoy v3 messages with grpc-go, against
// the agent's socket. StreamSecrets: subscribe default + ROOTCA, check both secrets parse, the key matches
// the leaf and the chain verifies against ROOTCA, ACK, then add a subscription on the same stream (the
// answer proves the ACK was accepted and caused no resend). DeltaSecrets: subscribe, check versions.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const secretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

type result struct {
	Code         string   `json:"code"`
	Message      string   `json:"message,omitempty"`
	Names        []string `json:"names,omitempty"`
	Serial       string   `json:"serial,omitempty"`
	URISAN       string   `json:"uriSan,omitempty"`
	Verified     bool     `json:"verified,omitempty"`
	AfterAck     []string `json:"afterAck,omitempty"`
	DeltaNames   []string `json:"deltaNames,omitempty"`
	DeltaVersion string   `json:"deltaVersion,omitempty"`
}

func fail(code string, err error) {
	msg := err.Error()
	if s, ok := status.FromError(err); ok {
		code, msg = s.Code().String(), s.Message()
	}
	b, _ := json.Marshal(result{Code: code, Message: msg})
	fmt.Println(string(b))
	os.Exit(1)
}

func secrets(res *discoveryv3.DiscoveryResponse) (map[string]*tlsv3.Secret, []string) {
	out := map[string]*tlsv3.Secret{}
	var names []string
	for _, a := range res.GetResources() {
		if a.GetTypeUrl() != secretType {
			fail("WrongType", fmt.Errorf("resource type %s", a.GetTypeUrl()))
		}
		s := &tlsv3.Secret{}
		if err := a.UnmarshalTo(s); err != nil {
			fail("Unmarshal", err)
		}
		if err := s.ValidateAll(); err != nil {
			fail("Invalid", err)
		}
		out[s.GetName()] = s
		names = append(names, s.GetName())
	}
	return out, names
}

func main() {
	socket := flag.String("socket", "", "agent socket path")
	token := flag.String("token", "", "bearer token (node mode)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+*socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail("Dial", err)
	}
	defer conn.Close()
	if *token != "" {
		ctx = metadataWithToken(ctx, *token)
	}
	client := secretv3.NewSecretDiscoveryServiceClient(conn)
	stream, err := client.StreamSecrets(ctx)
	if err != nil {
		fail("Stream", err)
	}
	node := &corev3.Node{Id: "go-control-plane-client", Cluster: "interop"}
	names := []string{"default", "ROOTCA"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretType, ResourceNames: names}); err != nil {
		// grpc-go: io.EOF from Send means the server already ended the stream; Recv returns its status.
		if err == io.EOF {
			_, err = stream.Recv()
		}
		fail("Send", err)
	}
	res, err := stream.Recv()
	if err != nil {
		fail("Recv", err)
	}
	if res.GetNonce() == "" || res.GetVersionInfo() == "" || res.GetTypeUrl() != secretType {
		fail("BadResponse", fmt.Errorf("nonce %q version %q type %q", res.GetNonce(), res.GetVersionInfo(), res.GetTypeUrl()))
	}
	byName, got := secrets(res)
	r := result{Code: "OK", Names: got}
	cert := byName["default"].GetTlsCertificate()
	roots := byName["ROOTCA"].GetValidationContext().GetTrustedCa().GetInlineBytes()
	pair, err := tls.X509KeyPair(cert.GetCertificateChain().GetInlineBytes(), cert.GetPrivateKey().GetInlineBytes())
	if err != nil {
		fail("KeyPair", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		fail("Leaf", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		fail("Roots", fmt.Errorf("ROOTCA holds no certificate"))
	}
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			fail("Chain", err)
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		fail("Verify", err)
	}
	r.Verified = true
	r.Serial = hex.EncodeToString(leaf.SerialNumber.Bytes())
	if len(leaf.URIs) == 1 {
		r.URISAN = leaf.URIs[0].String()
	}
	// ACK, then a subscription change carrying the same nonce: its answer must be the new set.
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretType, ResourceNames: names, VersionInfo: res.GetVersionInfo(), ResponseNonce: res.GetNonce()}); err != nil {
		fail("Ack", err)
	}
	more := append([]string{}, names...)
	more = append(more, "spiffe://"+trustDomainOf(r.URISAN))
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretType, ResourceNames: more, VersionInfo: res.GetVersionInfo(), ResponseNonce: res.GetNonce()}); err != nil {
		fail("Subscribe", err)
	}
	res2, err := stream.Recv()
	if err != nil {
		fail("Recv2", err)
	}
	_, r.AfterAck = secrets(res2)

	delta, err := client.DeltaSecrets(ctx)
	if err != nil {
		fail("Delta", err)
	}
	if err := delta.Send(&discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: secretType, ResourceNamesSubscribe: []string{"default"}}); err != nil {
		fail("DeltaSend", err)
	}
	dres, err := delta.Recv()
	if err != nil {
		fail("DeltaRecv", err)
	}
	for _, res := range dres.GetResources() {
		s := &tlsv3.Secret{}
		if err := res.GetResource().UnmarshalTo(s); err != nil {
			fail("DeltaUnmarshal", err)
		}
		if s.GetName() != res.GetName() {
			fail("DeltaName", fmt.Errorf("resource %q holds secret %q", res.GetName(), s.GetName()))
		}
		r.DeltaNames = append(r.DeltaNames, res.GetName())
		r.DeltaVersion = res.GetVersion()
	}
	sort.Strings(r.DeltaNames)
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func trustDomainOf(uri string) string {
	const scheme = "spiffe://"
	rest := uri[len(scheme):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return rest
}
