package nebius

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Autostop on Nebius with no credentials on the head: when the cluster has been idle long enough, every node's
// agent powers its VM off (cloud.ExitPoweroff). stix creates every instance with recovery policy FAIL, under
// which Nebius stops an instance whose OS shut it down (under the default, RECOVER, it would start it again
// and bill it), so a powered-off node is STOPPED, its disk kept. Autodown is finished by the client: `status -r`
// finds the head stopped, and since PrepareSelfStop recorded autodown, SelfStopped says "down" and the cluster
// is deleted. The head holds no token: Nebius's IAM tokens expire within hours, and a call the head sent later
// would be refused.

var (
	_ cloud.SelfStopper      = (*Provider)(nil)
	_ cloud.SelfStopPreparer = (*Provider)(nil)
)

// SelfStopExit says that a node ends by powering its VM off.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitPoweroff }

// PrepareSelfStop records whether autostop is an autodown. A preemptible cluster is refused a plain autostop:
// Nebius stops a preemptible instance it takes back too, and stix could not tell the two apart.
func (p *Provider) PrepareSelfStop(_ context.Context, ref cloud.ClusterRef, down bool) error {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return err
	}
	if s.Spot && !down {
		return cloud.SpotAutostopError(Name, "")
	}
	s.Autodown = down
	return p.m.WriteState(ref.Name, s)
}

// SelfStopped says how the cluster's head ended, from Nebius's view of it: stopped (by its own power-off, not
// by `stix stop`), and "down" when autodown was set. A running head, or a cluster stix has no record of, says
// nothing.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	var h handle
	if info == nil || json.Unmarshal(info.Handle, &h) != nil || h.Cluster == "" {
		return cloud.SelfStopNone, fmt.Errorf("nebius cluster: the record names no cluster")
	}
	s, err := vm.Load[state](p.m, h.Cluster)
	if err != nil || s == nil || len(s.InstanceIDs) == 0 || s.Stopped {
		return cloud.SelfStopNone, err
	}
	c, err := newClient(ctx)
	if err != nil {
		return cloud.SelfStopNone, err
	}
	out, err := c.call(ctx, svcCompute, instanceSvc+"Get", msg(nil).str(1, s.InstanceIDs[0]))
	if err != nil {
		if errNotFound(err) {
			return cloud.SelfStopNone, nil
		}
		return cloud.SelfStopNone, classify("get instance "+s.InstanceIDs[0], cloud.Place{Cloud: Name, Region: s.Region}, err)
	}
	head, err := decodeInstance(out)
	if err != nil {
		return cloud.SelfStopNone, err
	}
	return cloud.RecordedMark(head.State == stateStopped || head.State == stateStopping, s.Autodown), nil
}
