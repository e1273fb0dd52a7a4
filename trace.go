package caddyliveness

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the spans' instrumentation scope.
const tracerName = "github.com/caddy-liveness/caddy-liveness"

// startSpan starts a child of the request's span, from the tracer of the
// provider that span came from: Caddy's tracing handler's when it is on
// for the route, otherwise a no-op (nothing is recorded or allocated
// beyond the call). Attributes hold names, outcomes and counts only: never
// image data, hashes or secrets.
func startSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
}

// endSpan records err (its kind, not its text, which may quote a
// vendor's answer) and ends the span.
func endSpan(span trace.Span, outcome string, err error) {
	span.SetAttributes(attribute.String("liveness.outcome", outcome))
	if err != nil {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}
