//go:build race

package agent

// raceEnabled makes TestMain build the agent binary with the race detector too, so that `go test -race` checks
// the real agent processes, where the concurrency is.
const raceEnabled = true
