package api

import (
	"fmt"
	"time"
)

// ClusterNotFoundError is the error for a cluster name stix has no record of.
type ClusterNotFoundError struct{ Name string }

func (e *ClusterNotFoundError) Error() string {
	return fmt.Sprintf("cluster %q does not exist: see `stix status` for the clusters there are", e.Name)
}

// JobNotFoundError is the error for a job id a cluster does not have (`stix logs --status` exits 102).
type JobNotFoundError struct {
	Cluster string
	ID      int // 0: the cluster has no jobs at all
}

func (e *JobNotFoundError) Error() string {
	if e.ID == 0 {
		return fmt.Sprintf("cluster %q has no jobs yet", e.Cluster)
	}
	return fmt.Sprintf("job %d not found on cluster %q: see `stix queue %s`", e.ID, e.Cluster, e.Cluster)
}

// NodeNotAnsweringError is the error of a call to a node's agent that got no answer in time: the node or its
// agent is hung, stopped, overloaded or unreachable. Every call to an agent has a deadline, so a hung node ends
// a command with this error instead of hanging it.
type NodeNotAnsweringError struct {
	Cluster string        // the node's cluster; "" when the caller did not say
	Node    int           // the node's rank in the cluster; -1 when not known
	Addr    string        // the agent's address
	Op      string        // what was asked, e.g. "GET /v1/jobs"
	Waited  time.Duration // how long the caller waited for a sign of life
}

func (e *NodeNotAnsweringError) Error() string {
	who := "the agent at " + e.Addr
	if e.Node >= 0 {
		who = fmt.Sprintf("node %d (agent %s)", e.Node, e.Addr)
	}
	msg := fmt.Sprintf("%s is not answering: no reply to %s within %s", who, e.Op, e.Waited)
	if e.Cluster == "" {
		return msg
	}
	return fmt.Sprintf("cluster %q: %s; check the cluster with `stix status -r %s`, and restart agents that are "+
		"gone with `stix start %s`", e.Cluster, msg, e.Cluster, e.Cluster)
}
