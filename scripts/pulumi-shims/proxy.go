package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// maxMessageSize matches the limit the Pulumi CLI sets on its own channels: schemas and programs can be large.
const maxMessageSize = 400 * 1024 * 1024

// frame carries one gRPC message as the bytes on the wire. The proxy never decodes what it only forwards, so
// every call of the upstream host, whatever its protocol version, reaches it unchanged.
type frame struct{ payload []byte }

// wireCodec moves frames without decoding them. Its name is "proto" so that both sides see the content type
// they expect.
type wireCodec struct{}

func (wireCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("wire codec cannot encode %T", v)
	}
	return f.payload, nil
}

func (wireCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("wire codec cannot decode into %T", v)
	}
	f.payload = append([]byte(nil), data...)
	return nil
}

func (wireCodec) Name() string { return "proto" }

// localHandler answers one method here instead of forwarding it.
type localHandler func(grpc.ServerStream) error

// unary adapts a typed unary implementation to a localHandler.
func unary[Req any, PReq interface {
	*Req
	proto.Message
}, Resp proto.Message](fn func(context.Context, PReq) (Resp, error)) localHandler {
	return func(stream grpc.ServerStream) error {
		var in frame
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		req := PReq(new(Req))
		if err := proto.Unmarshal(in.payload, req); err != nil {
			return status.Errorf(codes.InvalidArgument, "could not decode the request: %v", err)
		}
		resp, err := fn(stream.Context(), req)
		if err != nil {
			if _, isStatus := status.FromError(err); isStatus {
				return err
			}
			return status.Error(codes.Unknown, err.Error())
		}
		out, err := proto.Marshal(resp)
		if err != nil {
			return status.Errorf(codes.Internal, "could not encode the response: %v", err)
		}
		return stream.SendMsg(&frame{payload: out})
	}
}

// proxy serves the LanguageRuntime service: the methods in local are answered here, every other call goes to
// the upstream host as it came, headers, messages, trailers and status included.
type proxy struct {
	upstream *grpc.ClientConn
	local    map[string]localHandler
}

func newProxy(upstreamAddr string, local map[string]localHandler) (*proxy, error) {
	conn, err := grpc.NewClient(upstreamAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodec(wireCodec{}),
			grpc.MaxCallRecvMsgSize(maxMessageSize),
			grpc.MaxCallSendMsgSize(maxMessageSize),
		))
	if err != nil {
		return nil, fmt.Errorf("could not connect to the language host at %s: %w", upstreamAddr, err)
	}
	return &proxy{upstream: conn, local: local}, nil
}

// serve listens on a free loopback port and returns it; the server runs until the process exits.
func (p *proxy) serve() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	server := grpc.NewServer(
		grpc.ForceServerCodec(wireCodec{}),
		grpc.UnknownServiceHandler(p.handle),
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
	)
	go func() { _ = server.Serve(listener) }()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

func (p *proxy) handle(_ any, stream grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(stream)
	if !ok {
		return status.Error(codes.Internal, "the call names no method")
	}
	if handler, found := p.local[method]; found {
		return handler(stream)
	}
	return p.forward(stream, method)
}

// forwardedMetadata is the caller's metadata without the entries gRPC sets for each connection itself.
func forwardedMetadata(ctx context.Context) metadata.MD {
	incoming, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for key, values := range incoming {
		if strings.HasPrefix(key, ":") || strings.HasPrefix(key, "grpc-") ||
			key == "content-type" || key == "user-agent" || key == "te" {
			continue
		}
		out[key] = values
	}
	return out
}

func (p *proxy) forward(server grpc.ServerStream, method string) error {
	ctx, cancel := context.WithCancel(server.Context())
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, forwardedMetadata(server.Context()))
	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	client, err := p.upstream.NewStream(ctx, desc, method)
	if err != nil {
		return err
	}

	// Requests flow up in the background; a failure there ends the call through ctx.
	go func() {
		for {
			var msg frame
			if err := server.RecvMsg(&msg); err != nil {
				if errors.Is(err, io.EOF) {
					_ = client.CloseSend()
				} else {
					cancel()
				}
				return
			}
			if err := client.SendMsg(&msg); err != nil {
				// The upstream call has ended; its status is read below.
				return
			}
		}
	}()

	header, err := client.Header()
	if err != nil {
		return err
	}
	if err := server.SendHeader(header); err != nil {
		return err
	}
	for {
		var msg frame
		if err := client.RecvMsg(&msg); err != nil {
			server.SetTrailer(client.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := server.SendMsg(&msg); err != nil {
			return err
		}
	}
}
