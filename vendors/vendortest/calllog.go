package vendortest

import "sync"

// callLog is the recording every emulator shares: the scripted faults and
// the calls it saw, of the emulator's own record type C. It is a named,
// unexported field of each emulator, whose exported Script, Calls,
// CallCount and Reset methods and Keep field delegate to it, so that the
// public API names the concrete record type.
type callLog[C any] struct {
	mu     sync.Mutex
	calls  []C
	count  int
	faults []Fault
}

// script queues faults, each used for one request, in order.
func (l *callLog[C]) script(f []Fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, f...)
}

// snapshot returns copies, made by clone, of the recorded calls, oldest
// first, so that a caller cannot alias the log's maps and headers.
func (l *callLog[C]) snapshot(clone func(C) C) []C {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]C, len(l.calls))
	for i, c := range l.calls {
		out[i] = clone(c)
	}
	return out
}

// callCount returns the number of calls since creation or reset,
// including those keep dropped.
func (l *callLog[C]) callCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// reset forgets the recorded calls and the queued faults.
func (l *callLog[C]) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls, l.count, l.faults = nil, 0, nil
}

// record stores the call, numbered from 1 (number may set fields from it,
// such as an id), keeps at most keep calls (0: all), and takes the next
// scripted fault.
func (l *callLog[C]) record(keep int, c C, number func(c *C, n int)) (C, Fault, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if number != nil {
		number(&c, l.count)
	}
	l.calls = append(l.calls, c)
	if keep > 0 && len(l.calls) > keep {
		l.calls = append(l.calls[:0:0], l.calls[len(l.calls)-keep:]...)
	}
	if len(l.faults) == 0 {
		return c, Fault{}, false
	}
	f := l.faults[0]
	l.faults = l.faults[1:]
	return c, f, true
}

// Script queues faults, each used for one request, in order, before any
// other check (see Fault). Requests beyond the queue are answered normally.
func (s *SpoofSense) Script(f ...Fault) { s.log.script(f) }

// Calls returns copies of the recorded calls, oldest first: the last Keep
// of them when Keep is set.
func (s *SpoofSense) Calls() []Call { return s.log.snapshot(Call.clone) }

// CallCount returns the number of requests since creation or Reset,
// including those Keep dropped.
func (s *SpoofSense) CallCount() int { return s.log.callCount() }

// Reset forgets the recorded calls and the queued faults.
func (s *SpoofSense) Reset() { s.log.reset() }

// Script queues faults, each used for one request, in order, before any
// other check (see Fault). Requests beyond the queue are answered normally.
func (s *VideoSDK) Script(f ...Fault) { s.log.script(f) }

// Calls returns copies of the recorded calls, oldest first: the last Keep
// of them when Keep is set.
func (s *VideoSDK) Calls() []VideoSDKCall { return s.log.snapshot(VideoSDKCall.clone) }

// CallCount returns the number of requests since creation or Reset,
// including those Keep dropped.
func (s *VideoSDK) CallCount() int { return s.log.callCount() }

// Reset forgets the recorded calls and the queued faults.
func (s *VideoSDK) Reset() { s.log.reset() }

// Script queues faults, each used for one request of any path, in order,
// before any other check (see Fault). Requests beyond the queue are
// answered normally.
func (s *FACIA) Script(f ...Fault) { s.log.script(f) }

// Calls returns copies of the recorded calls, oldest first: the last Keep
// of them when Keep is set.
func (s *FACIA) Calls() []FACIACall { return s.log.snapshot(FACIACall.clone) }

// CallCount returns the number of requests since creation or Reset,
// including those Keep dropped.
func (s *FACIA) CallCount() int { return s.log.callCount() }

// Reset forgets the recorded calls and the queued faults. The issued
// tokens and the transactions stay, as the vendor would keep them.
func (s *FACIA) Reset() { s.log.reset() }

// Script queues faults, each used for one request, in order, before any
// other check (see Fault). Requests beyond the queue are answered normally.
func (v *Verifik) Script(f ...Fault) { v.log.script(f) }

// Calls returns copies of the recorded calls, oldest first: the last Keep
// of them when Keep is set.
func (v *Verifik) Calls() []VerifikCall { return v.log.snapshot(VerifikCall.clone) }

// CallCount returns the number of requests since creation or Reset,
// including those Keep dropped.
func (v *Verifik) CallCount() int { return v.log.callCount() }

// Reset forgets the recorded calls and the queued faults. A token expired
// by Expire stays expired, and the ids start again from the first.
func (v *Verifik) Reset() { v.log.reset() }
