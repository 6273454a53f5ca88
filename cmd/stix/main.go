// Command stix runs SkyPilot task YAMLs on the cheapest infrastructure that fits.
package main

import (
	"os"

	"github.com/stix-run/stix/internal/stixcmd"
)

func main() {
	os.Exit(stixcmd.Main())
}
