package api

// Step is the core's in-process form of a progress event (a Client's caller sees it as an Event): one progress event of a long operation: a step that begins ("Launching on Local"), or, with Err set,
// the end in failure of the running step, Msg then saying what failed and what happens next.
type Step struct {
	Msg string `json:"msg"`
	Err error  `json:"-"`
}

// ProgressFunc receives the steps of a long operation inside the core; a nil ProgressFunc discards them.
// The embedded Client turns the steps into an Operation's Events.
type ProgressFunc func(Step)

// Report begins the step msg.
func (f ProgressFunc) Report(msg string) {
	if f != nil {
		f(Step{Msg: msg})
	}
}

// Fail ends the running step in failure with err; msg says what failed and what happens next.
func (f ProgressFunc) Fail(msg string, err error) {
	if f != nil {
		f(Step{Msg: msg, Err: err})
	}
}
