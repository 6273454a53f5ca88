package vm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
)

// Options configure a VM cloud's provider (AWS's, Lambda's and RunPod's Options are this type; GCP's embeds it).
type Options struct {
	// Home is stix's state directory; the provider keeps its SSH key and clusters under Home/<cloud>.
	Home string
	// SSHUser is the instances' login user; the cloud's $STIX_<CLOUD>_SSH_USER, else its default user, when empty.
	SSHUser string
	// AgentBinary finds the stix-agent executable; nodeagent.Binary by default.
	AgentBinary func() (string, error)
	// Catalog loads the cloud's catalog (its regions, zones and images); catalog.FromEnv's source by default.
	Catalog func(ctx context.Context) (*catalog.Cloud, error)
	// PollInterval is the longest wait between polls of the instances; 2 s by default.
	PollInterval time.Duration
	// WaitTimeout bounds each wait for instances; 10 minutes by default.
	WaitTimeout time.Duration
}

// Machines fills in o's defaults for the cloud named cloudName (label in messages, e.g. "AWS"), whose login
// user is $userEnv, else defaultUser, and returns its Machines.
func (o *Options) Machines(cloudName, label, userEnv, defaultUser string) (*Machines, error) {
	if o.Home == "" {
		return nil, errors.New(cloudName + " provider: no stix home directory")
	}
	if o.SSHUser == "" {
		o.SSHUser = os.Getenv(userEnv)
	}
	if o.SSHUser == "" {
		o.SSHUser = defaultUser
	}
	if o.AgentBinary == nil {
		o.AgentBinary = nodeagent.Binary
	}
	if o.Catalog == nil {
		home := o.Home
		o.Catalog = func(ctx context.Context) (*catalog.Cloud, error) { return LoadCatalog(ctx, home, cloudName, label) }
	}
	return &Machines{Cloud: cloudName, Root: filepath.Join(o.Home, cloudName), User: o.SSHUser,
		PollInterval: o.PollInterval, WaitTimeout: o.WaitTimeout, AgentBinary: o.AgentBinary}, nil
}

// LoadCatalog reads the catalog of the cloud named cloudName (label in messages) through the source the rest of
// stix uses.
func LoadCatalog(ctx context.Context, home, cloudName, label string) (*catalog.Cloud, error) {
	src, err := catalog.FromEnv(home, os.Getenv, nil)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(ctx, src, cloudName)
	if err != nil {
		return nil, err
	}
	c, ok := cat.Cloud(cloudName)
	if !ok {
		return nil, errors.New("the catalog has no " + label + " offers (" + cloudName + "/vms.csv)")
	}
	return c, nil
}

// CatalogOffers is the error of a VM cloud's Offers: its offers come from the catalog (Descriptor.Catalog).
func CatalogOffers(cloudName string) (cloud.OfferFunc, error) {
	return nil, errors.New(cloudName + " offers come from the catalog (" + cloudName + "/vms.csv)")
}
