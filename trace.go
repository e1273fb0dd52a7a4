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
//
// Callers set attributes only when span.IsRecording(): building them
// costs allocations that an untraced request should not pay.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
}

// endSpan records err (its kind, not its text, which may quote a
// vendor's answer) and ends the span.
func endSpan(span trace.Span, outcome string, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("liveness.outcome", outcome))
	if err != nil {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}

// cacheOutcome names a lookup's result for its span.
func cacheOutcome(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}
