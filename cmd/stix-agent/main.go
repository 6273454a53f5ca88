// Command stix-agent is the node agent: it runs on every node of a stix cluster (see docs/agent.md).
package main

import (
	"os"

	"github.com/stix-run/stix/internal/agent"
)

func main() { os.Exit(agent.Main(os.Args)) }
