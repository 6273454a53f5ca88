package api

import "fmt"

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
