// Command httpstatus is the least a `stix status` through a warm API server can cost, for bench/startup.sh: it
// links only net/http and encoding/json, lists the OS user's clusters from the server at
// $STIX_API_SERVER_ENDPOINT (as the CLI does, naming the user in X-Stix-User) and prints their names. No command
// tree, no config, no table rendering.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/user"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpstatus:", err)
		os.Exit(1)
	}
}

func run() error {
	req, err := http.NewRequest(http.MethodGet, os.Getenv("STIX_API_SERVER_ENDPOINT")+"/api/v1/clusters", nil)
	if err != nil {
		return err
	}
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	req.Header.Set("X-Stix-User", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /api/v1/clusters: %s", resp.Status)
	}
	var clusters []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&clusters); err != nil {
		return err
	}
	for _, c := range clusters {
		fmt.Println(c.Name, c.Status)
	}
	return nil
}
