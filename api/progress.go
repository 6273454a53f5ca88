package api

// Step is one progress event of a long operation: a step that begins ("Launching on Local"), or, with Err set,
// the end in failure of the running step, Msg then saying what failed and what happens next.
type Step struct {
	Msg string `json:"msg"`
	Err error  `json:"-"`
}

// ProgressFunc receives the steps of a long operation; a nil ProgressFunc discards them.
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
