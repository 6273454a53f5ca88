package nebius

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/restapi"
)

// Nebius's services and messages as stix uses them; field numbers are those of the public nebius/api protos
// (nebius/compute/v1, nebius/vpc/v1, nebius/iam/v1, nebius/common/v1).

// The gRPC methods, by service address.
const (
	svcCompute   = "compute"
	svcVPC       = "vpc"
	svcIAM       = "cpl.iam"
	instanceSvc  = "nebius.compute.v1.InstanceService/"
	diskSvc      = "nebius.compute.v1.DiskService/"
	operationSvc = "nebius.common.v1.OperationService/"
	subnetSvc    = "nebius.vpc.v1.SubnetService/"
	projectSvc   = "nebius.iam.v1.ProjectService/"
	profileSvc   = "nebius.iam.v1.ProfileService/"
)

// The instance states (InstanceStatus.InstanceState).
const (
	stateCreating = 1
	stateUpdating = 2
	stateStarting = 3
	stateRunning  = 4
	stateStopping = 5
	stateStopped  = 6
	stateDeleting = 7
	stateError    = 8
)

// stateNames are the instance states' names, by number (an array: a map would be allocated at every stix
// command's start).
var stateNames = [...]string{0: "UNSPECIFIED", 1: "CREATING", 2: "UPDATING", 3: "STARTING", 4: "RUNNING",
	5: "STOPPING", 6: "STOPPED", 7: "DELETING", 8: "ERROR"}

// stateName names instance state s.
func stateName(s int) string {
	if s >= 0 && s < len(stateNames) {
		return stateNames[s]
	}
	return "state " + strconv.Itoa(s)
}

// The disk states (DiskStatus.State).
const (
	diskReady = 2
	diskError = 5
)

// labelKey is the label every instance and disk of a cluster carries, its value the cluster's label.
const labelKey = "stix-cluster"

// metadata is common.v1.ResourceMetadata: id 1, parent_id 2, name 3, labels 7.
type metadata struct {
	ID, ParentID, Name string
	Labels             map[string]string
}

func (m metadata) encode() msg {
	b := msg(nil).str(1, m.ID).str(2, m.ParentID).str(3, m.Name)
	for k, v := range m.Labels {
		b = b.sub(7, msg(nil).str(1, k).str(2, v))
	}
	return b
}

func decodeMetadata(b []byte) (metadata, error) {
	m := metadata{Labels: map[string]string{}}
	err := walk(b, func(f field) error {
		switch f.num {
		case 1:
			m.ID = f.str()
		case 2:
			m.ParentID = f.str()
		case 3:
			m.Name = f.str()
		case 7:
			var k, v string
			if err := walk(f.bytes, func(e field) error {
				if e.num == 1 {
					k = e.str()
				} else if e.num == 2 {
					v = e.str()
				}
				return nil
			}); err != nil {
				return err
			}
			m.Labels[k] = v
		}
		return nil
	})
	return m, err
}

// instance is compute.v1.Instance, as far as stix reads it.
type instance struct {
	metadata
	Platform, Preset string
	BootDisk         string
	Preemptible      bool
	State            int
	Reconciling      bool
	PrivateIP        string
	PublicIP         string
}

// address strips the prefix length Nebius writes addresses with ("10.0.0.5/32").
func address(s string) string { before, _, _ := strings.Cut(s, "/"); return before }

func decodeInstance(b []byte) (instance, error) {
	var in instance
	sub := func(b []byte, num int, fn func(field) error) error {
		return walk(b, func(f field) error {
			if f.num == num && f.typ == wireBytes {
				return fn(f)
			}
			return nil
		})
	}
	addr := func(into *string) func(field) error {
		return func(f field) error {
			return sub(f.bytes, 1, func(a field) error { *into = address(a.str()); return nil })
		}
	}
	err := walk(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			in.metadata, err = decodeMetadata(f.bytes)
		case 2: // spec: resources 2 (platform 1, preset 2), boot_disk 5 (existing_disk 2: id 1), preemptible 19
			err = walk(f.bytes, func(s field) error {
				switch s.num {
				case 2:
					return walk(s.bytes, func(r field) error {
						if r.num == 1 {
							in.Platform = r.str()
						} else if r.num == 2 {
							in.Preset = r.str()
						}
						return nil
					})
				case 5:
					return sub(s.bytes, 2, func(d field) error {
						return sub(d.bytes, 1, func(id field) error { in.BootDisk = id.str(); return nil })
					})
				case 19:
					in.Preemptible = true
				}
				return nil
			})
		case 3: // status: state 1, network_interfaces 2 (ip_address 3, public_ip_address 4: address 1), reconciling 5
			first := true
			err = walk(f.bytes, func(s field) error {
				switch s.num {
				case 1:
					in.State = int(s.v)
				case 5:
					in.Reconciling = s.v != 0
				case 2:
					if !first {
						return nil
					}
					first = false
					if err := sub(s.bytes, 3, addr(&in.PrivateIP)); err != nil {
						return err
					}
					return sub(s.bytes, 4, addr(&in.PublicIP))
				}
				return nil
			})
		}
		return err
	})
	return in, err
}

// operation is common.v1.Operation: id 1, description 2, resource_id 7, status 10 (set when it is done).
type operation struct {
	ID, Description, ResourceID string
	Done                        bool
	Err                         *rpcError // the failure of a done operation
}

func decodeOperation(b []byte) (operation, error) {
	var op operation
	err := walk(b, func(f field) error {
		switch f.num {
		case 1:
			op.ID = f.str()
		case 2:
			op.Description = f.str()
		case 7:
			op.ResourceID = f.str()
		case 10:
			op.Done = true
			st, err := decodeStatus(f.bytes)
			if err != nil {
				return err
			}
			if st.Code != codeOK {
				op.Err = st
			}
		}
		return nil
	})
	return op, err
}

// operation calls a method that answers an Operation (Create, Delete, Start, Stop) and waits until it is done;
// a failed operation is its status, as an *rpcError. poll waits between looks (vm.Machines.Poll).
func (c *client) operation(ctx context.Context, poll pollFunc, service, method string, req msg) (operation, error) {
	out, err := c.call(ctx, service, method, req)
	if err != nil {
		return operation{}, err
	}
	op, err := decodeOperation(out)
	if err != nil {
		return op, err
	}
	if !op.Done {
		err = poll(ctx, "operation "+op.ID+" ("+op.Description+") is not done", func(ctx context.Context) (bool, error) {
			out, err := c.call(ctx, service, operationSvc+"Get", msg(nil).str(1, op.ID))
			if err != nil {
				return false, err
			}
			id := op.ID
			if op, err = decodeOperation(out); err != nil {
				return false, err
			}
			op.ID = id
			return op.Done, nil
		})
		if err != nil {
			return op, err
		}
	}
	if op.Err != nil {
		return op, op.Err
	}
	return op, nil
}

type pollFunc func(ctx context.Context, notYet string, check func(ctx context.Context) (bool, error)) error

// list pages through a List method (parent_id 1, page_size 2, page_token 3; items 1, next_page_token 2) and
// hands each item to fn.
func (c *client) list(ctx context.Context, service, method, parent string, fn func([]byte) error) error {
	token := ""
	for {
		out, err := c.call(ctx, service, method, msg(nil).str(1, parent).int(2, 100).str(3, token))
		if err != nil {
			return err
		}
		token = ""
		if err := walk(out, func(f field) error {
			switch f.num {
			case 1:
				return fn(f.bytes)
			case 2:
				token = f.str()
			}
			return nil
		}); err != nil {
			return err
		}
		if token == "" {
			return nil
		}
	}
}

// instances lists the project's instances.
func (c *client) instances(ctx context.Context, project string) ([]instance, error) {
	var out []instance
	err := c.list(ctx, svcCompute, instanceSvc+"List", project, func(b []byte) error {
		in, err := decodeInstance(b)
		out = append(out, in)
		return err
	})
	return out, err
}

// disks lists the project's disks (metadata only).
func (c *client) disks(ctx context.Context, project string) ([]metadata, error) {
	var out []metadata
	err := c.list(ctx, svcCompute, diskSvc+"List", project, func(b []byte) error {
		return walk(b, func(f field) error {
			if f.num == 1 {
				m, err := decodeMetadata(f.bytes)
				out = append(out, m)
				return err
			}
			return nil
		})
	})
	return out, err
}

// subnets lists the ids of the project's subnets.
func (c *client) subnets(ctx context.Context, project string) ([]string, error) {
	var out []string
	err := c.list(ctx, svcVPC, subnetSvc+"List", project, func(b []byte) error {
		return walk(b, func(f field) error {
			if f.num == 1 {
				m, err := decodeMetadata(f.bytes)
				out = append(out, m.ID)
				return err
			}
			return nil
		})
	})
	return out, err
}

// project is an iam.v1.Container: metadata 1, spec 2 (region 1), status 3 (region 4).
type project struct {
	ID, Name, Region string
}

// projects lists the tenant's projects.
func (c *client) projects(ctx context.Context, tenant string) ([]project, error) {
	var out []project
	err := c.list(ctx, svcIAM, projectSvc+"List", tenant, func(b []byte) error {
		var p project
		err := walk(b, func(f field) error {
			switch f.num {
			case 1:
				m, err := decodeMetadata(f.bytes)
				p.ID, p.Name = m.ID, m.Name
				return err
			case 2, 3:
				num := 1
				if f.num == 3 {
					num = 4
				}
				return walk(f.bytes, func(r field) error {
					if r.num == num && r.str() != "" {
						p.Region = r.str()
					}
					return nil
				})
			}
			return nil
		})
		out = append(out, p)
		return err
	})
	return out, err
}

// disk is one disk's state: READY (2) or ERROR (5) with its description.
func (c *client) diskState(ctx context.Context, id string) (state int, description string, err error) {
	out, err := c.call(ctx, svcCompute, diskSvc+"Get", msg(nil).str(1, id))
	if err != nil {
		return 0, "", err
	}
	err = walk(out, func(f field) error {
		if f.num != 3 {
			return nil
		}
		return walk(f.bytes, func(s field) error {
			switch s.num {
			case 1:
				state = int(s.v)
			case 2:
				description = s.str()
			}
			return nil
		})
	})
	return state, description, err
}

// classify maps an API error to the failover errors of package cloud, saying what was being done (op) and
// where. Nebius says what failed by gRPC code and ServiceError details: RESOURCE_EXHAUSTED with QuotaFailure is
// a quota (Nebius's quotas are per region), with NotEnoughResources (or without details) the region's capacity;
// UNAUTHENTICATED and PERMISSION_DENIED are the credentials (the cloud); NOT_FOUND, INVALID_ARGUMENT and
// FAILED_PRECONDITION a request Nebius cannot do (an image family, a platform or preset it does not have), except
// a platform not available in the region, which rules out the region only.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var e *rpcError
	if !errors.As(err, &e) {
		return restapi.Unanswered(Name, "Nebius's API", op, place, err)
	}
	reason := op + ": " + e.Error()
	region := cloud.Place{Cloud: Name, Region: place.Region}
	msg := strings.ToLower(e.Message)
	switch {
	case e.Code == codeUnauthenticated || e.Code == codePermissionDenied && !e.has("quota_failure"):
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason + " (check " + credentials + " or $" + TokenEnv + ": `stix check -v nebius`)"}
	case e.has("quota_failure") || e.Code == codeResourceExhausted && strings.Contains(msg, "quota"):
		return &cloud.QuotaError{Place: region, Reason: reason + " (ask Nebius to raise the quota in the console's Quotas page, or `stix down` other clusters)"}
	case e.has("not_enough_resources") || e.Code == codeResourceExhausted:
		return &cloud.CapacityError{Place: region, Reason: reason}
	case e.Code == codeInvalidArgument && strings.Contains(msg, "not available in region"):
		// A platform or preset Nebius has, but not in this region: the other regions may have it.
		return &cloud.CapacityError{Place: region, Reason: reason}
	case e.Code == codeNotFound || e.Code == codeInvalidArgument || e.Code == codeFailedPrecondition:
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}
