package sluice

import (
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sluicev1 "github.com/sluice-project/sluice/clients/go/sluicev1"
)

// Error is what every Client method returns when the daemon answers with a non-OK status
// (or cannot be reached). status.Code(err) and status.FromError(err) work on it, so callers
// branch on the gRPC code as usual:
//
//	if status.Code(err) == codes.Unimplemented { ... }
//
// Details holds the sluice.v1.ErrorDetails the daemon attached (attempts made, field to fix),
// or nil. The standard google.rpc details are decoded too:
//
//	Reason, Domain, Metadata   google.rpc.ErrorInfo (e.g. Reason "OVERLOADED", Domain "sluice.dev")
//	FieldViolations            google.rpc.BadRequest: which input to fix, and why
//	RetryDelay                 google.rpc.RetryInfo: wait this long before the same call
//	                           (0 when the daemon sent none: waiting does not help)
type Error struct {
	Code            codes.Code
	Message         string
	Details         *sluicev1.ErrorDetails
	Reason          string
	Domain          string
	Metadata        map[string]string
	FieldViolations []FieldViolation
	RetryDelay      time.Duration
	st              *status.Status
}

// FieldViolation names one input to fix, as a dotted path such as "messages[0].role".
type FieldViolation struct {
	Field       string
	Description string
}

func (e *Error) Error() string { return "sluice: " + e.Code.String() + ": " + e.Message }

// GRPCStatus lets status.Code, status.FromError and errors.As see the original status.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// Is makes errors.Is(err, sluice.ErrUnimplemented) and friends match on the code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.st == nil && t.Code == e.Code
}

// Sentinels for errors.Is; they compare by code only.
var (
	ErrInvalidArgument   = &Error{Code: codes.InvalidArgument}
	ErrResourceExhausted = &Error{Code: codes.ResourceExhausted}
	ErrNotFound          = &Error{Code: codes.NotFound}
	ErrUnavailable       = &Error{Code: codes.Unavailable}
	ErrDeadlineExceeded  = &Error{Code: codes.DeadlineExceeded}
	ErrUnimplemented     = &Error{Code: codes.Unimplemented}
	ErrUnauthenticated   = &Error{Code: codes.Unauthenticated}
)

// wrap converts a gRPC error into *Error; nil stays nil.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err) // non-status errors become codes.Unknown
	out := &Error{Code: st.Code(), Message: st.Message(), st: st}
	for _, d := range st.Details() { // unknown detail types come back as errors: skipped
		switch d := d.(type) {
		case *sluicev1.ErrorDetails:
			out.Details = d
		case *errdetails.ErrorInfo:
			out.Reason, out.Domain, out.Metadata = d.GetReason(), d.GetDomain(), d.GetMetadata()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out.FieldViolations = append(out.FieldViolations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		case *errdetails.RetryInfo:
			out.RetryDelay = d.GetRetryDelay().AsDuration()
		}
	}
	return out
}
