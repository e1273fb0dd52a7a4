package vendortest

import "sync"

// callLog is what every emulator keeps: the scripted faults and the calls
// it saw. Its exported methods and Keep are the emulators' own.
type callLog[C interface{ clone() C }] struct {
	// Keep bounds how many of the most recent calls Calls returns; 0 keeps
	// all. Set it before serving; a long-running emulator should.
	Keep int

	mu     sync.Mutex
	calls  []C
	count  int
	faults []Fault
}

// Script queues faults, each used for one request, in order, before any
// other check. Requests beyond the queue are answered normally.
func (l *callLog[C]) Script(f ...Fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, f...)
}

// Calls returns the recorded calls, oldest first.
func (l *callLog[C]) Calls() []C {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]C, len(l.calls))
	for i, c := range l.calls {
		out[i] = c.clone()
	}
	return out
}

// CallCount returns the number of requests since creation or Reset,
// including any Keep dropped.
func (l *callLog[C]) CallCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// Reset forgets the recorded calls and the queued faults; what the vendor
// itself would remember (tokens, transactions, an expired token) stays.
func (l *callLog[C]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls, l.count, l.faults = nil, 0, nil
}

// record stores the call, numbered from 1 (number may set fields from it,
// such as an id), and takes the next scripted fault.
func (l *callLog[C]) record(c C, number func(c *C, n int)) (C, Fault, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if number != nil {
		number(&c, l.count)
	}
	l.calls = append(l.calls, c)
	if l.Keep > 0 && len(l.calls) > l.Keep {
		l.calls = append(l.calls[:0:0], l.calls[len(l.calls)-l.Keep:]...)
	}
	if len(l.faults) == 0 {
		return c, Fault{}, false
	}
	f := l.faults[0]
	l.faults = l.faults[1:]
	return c, f, true
}
