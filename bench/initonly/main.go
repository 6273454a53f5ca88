// Command initonly links and initialises everything stix does, then prints hello: the floor under every stix
// command, measured by bench/cli.sh against bench/hello.
package main

import (
	"fmt"

	_ "github.com/stix-run/stix/internal/stixcmd"
)

func main() { fmt.Println("hello") }
