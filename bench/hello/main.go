// Command hello is the baseline of the CLI start-up benchmarks (bench/cli.sh): a Go hello-world built the way stix
// is (CGO_ENABLED=0, -trimpath, -ldflags '-s -w'), so that the ratio measures what stix adds to any Go program.
package main

import "fmt"

func main() { fmt.Println("hello") }
