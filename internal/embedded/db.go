package embedded

import (
	"fmt"

	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/store"
)

// stateDB chooses the state database for the core (store.ChooseDB): db: in the user's (the server's) config
// file, else STIX_DB_CONNECTION_URI or SKYPILOT_DB_CONNECTION_URI, else SQLite under STIX_HOME. Project files
// and --config do not choose it: the database is the server's, not a request's.
func (c *Client) stateDB() (uri, origin string, err error) {
	cfg, err := config.Load(config.Inputs{StixHome: c.opts.Core.Home, Home: c.opts.UserHome, Getenv: c.opts.Getenv})
	if err != nil {
		return "", "", fmt.Errorf("read the config to find the state database: %w", err)
	}
	v, _ := cfg.Get("db")
	db, _ := v.(string)
	var pos string
	if o, ok := cfg.Origin("db"); ok {
		pos = o.String()
	}
	uri, origin = store.ChooseDB(db, pos, c.opts.Getenv)
	return uri, origin, nil
}

// StateLocation is where the core keeps its state (stateDB): the API server records its requests there too.
func (c *Client) StateLocation() (store.Location, error) {
	loc := store.Location{Home: c.opts.Core.Home, DB: c.opts.Core.DB, DBOrigin: c.opts.Core.DBOrigin}
	if loc.DB != "" {
		return loc, nil
	}
	var err error
	loc.DB, loc.DBOrigin, err = c.stateDB()
	return loc, err
}
