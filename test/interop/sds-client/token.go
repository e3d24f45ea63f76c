package main

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// metadataWithToken sends the pod's token the way Envoy's call credentials do in node mode.
func metadataWithToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}
