// Command replica is a service replica for the Docker tests: it answers GET /id with its
// SKYPILOT_SERVE_REPLICA_ID on :8080 (the node image has no Python).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	id := os.Getenv("SKYPILOT_SERVE_REPLICA_ID")
	http.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, id) })
	log.Fatal(http.ListenAndServe(":8080", nil))
}
