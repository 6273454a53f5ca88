package cluster

import (
	"context"
	"sync"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
)

// snapshot is p as a planning source: its capacity measured once, on first use (nvidia-smi on this machine, the
// pools' claims), however often planning and re-planning ask it; what p has no capability for is refused first.
func snapshot(ctx context.Context, p cloud.Provider) optimizer.Source {
	var once sync.Once
	var offers cloud.OfferFunc
	return optimizer.SourceFunc{CloudName: p.Name(), Func: func(req cloud.Requirements) ([]cloud.Offer, error) {
		once.Do(func() {
			var err error
			if offers, err = p.Offers(ctx); err != nil {
				offers = func(cloud.Requirements) ([]cloud.Offer, error) { return nil, err }
			}
		})
		return cloud.Feasible(p, offers, req)
	}}
}
