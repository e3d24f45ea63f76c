// The JWT-SVID profile and cross-domain mTLS with go-spiffe v2 (workloadapi, jwtsvid, spiffetls): each
// mode prints one JSON line and exits 0 on success.
//
//	-mode jwt           FetchJWTSVID, FetchJWTBundles, ValidateJWTSVID and a local jwtsvid.ParseAndValidate
//	-mode jwt-fetch     FetchJWTSVID for -audience: prints the token
//	-mode jwt-validate  ValidateJWTSVID of -token for -audience (the agent's bundles, federated ones too)
//	-mode mtls-server   listens on -listen with the X509-SVID, accepts -peer, answers one connection
//	-mode mtls-client   dials -connect with the X509-SVID, expects the server to be -peer
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"

	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

var (
	audience = flag.String("audience", "castellan-test", "JWT-SVID audience")
	extra    = flag.String("extra-audience", "", "a second audience (FetchJWTSVID)")
	subject  = flag.String("subject", "", "FetchJWTSVID: ask for this SPIFFE ID")
	token    = flag.String("token", "", "jwt-validate: the token")
	listen   = flag.String("listen", "127.0.0.1:0", "mtls-server: address")
	connect  = flag.String("connect", "", "mtls-client: address")
	peer     = flag.String("peer", "", "mtls: the SPIFFE ID the other side must have")
)

type jwtResult struct {
	Code       string              `json:"code"`
	Message    string              `json:"message,omitempty"`
	SpiffeID   string              `json:"spiffeId,omitempty"`
	Token      string              `json:"token,omitempty"`
	Audience   []string            `json:"audience,omitempty"`
	Validated  string              `json:"validated,omitempty"`
	LocalCheck string              `json:"localCheck,omitempty"`
	Bundles    map[string][]string `json:"bundles,omitempty"`
	Peer       string              `json:"peer,omitempty"`
	Reply      string              `json:"reply,omitempty"`
	Listen     string              `json:"listen,omitempty"`
}

func emitJSON(v interface{}) { emitAny(v) }

func fail(code string, err error) int {
	emitJSON(jwtResult{Code: code, Message: err.Error()})
	return 1
}

func runMode(ctx context.Context, mode string, addr workloadapi.ClientOption) int {
	client, err := workloadapi.New(ctx, addr)
	if err != nil {
		return fail("Error", err)
	}
	defer client.Close()
	params := jwtsvid.Params{Audience: *audience}
	if *extra != "" {
		params.ExtraAudiences = []string{*extra}
	}
	if *subject != "" {
		id, err := spiffeid.FromString(*subject)
		if err != nil {
			return fail("Error", err)
		}
		params.Subject = id
	}
	switch mode {
	case "jwt-fetch":
		svid, err := client.FetchJWTSVID(ctx, params)
		if err != nil {
			return fail(grpcCode(err), err)
		}
		emitJSON(jwtResult{Code: "OK", SpiffeID: svid.ID.String(), Token: svid.Marshal(), Audience: svid.Audience})
		return 0
	case "jwt-validate":
		svid, err := client.ValidateJWTSVID(ctx, *token, *audience)
		if err != nil {
			return fail(grpcCode(err), err)
		}
		emitJSON(jwtResult{Code: "OK", SpiffeID: svid.ID.String(), Audience: svid.Audience})
		return 0
	case "jwt":
		svid, err := client.FetchJWTSVID(ctx, params)
		if err != nil {
			return fail(grpcCode(err), err)
		}
		bundles, err := client.FetchJWTBundles(ctx)
		if err != nil {
			return fail("FetchJWTBundles", err)
		}
		r := jwtResult{Code: "OK", SpiffeID: svid.ID.String(), Token: svid.Marshal(), Audience: svid.Audience, Bundles: map[string][]string{}}
		for _, b := range bundles.Bundles() {
			for kid := range b.JWTAuthorities() {
				r.Bundles[b.TrustDomain().IDString()] = append(r.Bundles[b.TrustDomain().IDString()], kid)
			}
		}
		// The same token validated three ways: by the agent, and here with the fetched JWT bundles.
		v, err := client.ValidateJWTSVID(ctx, svid.Marshal(), *audience)
		if err != nil {
			return fail("ValidateFailed", err)
		}
		r.Validated = v.ID.String()
		local, err := jwtsvid.ParseAndValidate(svid.Marshal(), bundles, []string{*audience})
		if err != nil {
			return fail("LocalValidateFailed", err)
		}
		r.LocalCheck = local.ID.String()
		emitJSON(r)
		return 0
	case "mtls-server":
		return mtlsServer(ctx, client)
	case "mtls-client":
		return mtlsClient(ctx, client)
	}
	return fail("Error", fmt.Errorf("unknown mode %q", mode))
}

func grpcCode(err error) string {
	// go-spiffe wraps the gRPC status: "rpc error: code = InvalidArgument desc = ...".
	s := err.Error()
	if i := strings.Index(s, "code = "); i >= 0 {
		rest := s[i+len("code = "):]
		if j := strings.Index(rest, " "); j >= 0 {
			return rest[:j]
		}
	}
	return "Error"
}

func authorizer() (tlsconfig.Authorizer, error) {
	id, err := spiffeid.FromString(*peer)
	if err != nil {
		return nil, err
	}
	return tlsconfig.AuthorizeID(id), nil
}

// mtlsServer serves one mTLS connection with the workload's X509-SVID, verifying the client with the
// bundles (own and federated) from the same Workload API: prints its address first, then the result.
func mtlsServer(ctx context.Context, client *workloadapi.Client) int {
	source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClient(client))
	if err != nil {
		return fail("Error", err)
	}
	defer source.Close()
	auth, err := authorizer()
	if err != nil {
		return fail("Error", err)
	}
	ln, err := spiffetls.ListenWithMode(ctx, "tcp", *listen, spiffetls.MTLSServerWithSource(auth, source))
	if err != nil {
		return fail("Error", err)
	}
	defer ln.Close()
	emitJSON(jwtResult{Code: "LISTENING", Listen: ln.Addr().String()})
	conn, err := ln.Accept()
	if err != nil {
		return fail("AcceptFailed", err)
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fail("HandshakeFailed", err)
	}
	id, _ := spiffetls.PeerIDFromConn(conn)
	if _, err := fmt.Fprintf(conn, "hello %s\n", id); err != nil {
		return fail("WriteFailed", err)
	}
	emitJSON(jwtResult{Code: "OK", Peer: id.String(), Reply: strings.TrimSpace(line)})
	return 0
}

// mtlsClient dials the server with the workload's X509-SVID and checks the server's identity.
func mtlsClient(ctx context.Context, client *workloadapi.Client) int {
	source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClient(client))
	if err != nil {
		return fail("Error", err)
	}
	defer source.Close()
	auth, err := authorizer()
	if err != nil {
		return fail("Error", err)
	}
	conn, err := spiffetls.DialWithMode(ctx, "tcp", *connect, spiffetls.MTLSClientWithSource(auth, source))
	if err != nil {
		return fail("HandshakeFailed", err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "hi from client\n"); err != nil {
		return fail("WriteFailed", err)
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fail("ReadFailed", err)
	}
	id, _ := spiffetls.PeerIDFromConn(conn)
	emitJSON(jwtResult{Code: "OK", Peer: id.String(), Reply: strings.TrimSpace(reply)})
	return 0
}
