package serve

import "testing"

func TestServiceStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		replicas []ReplicaStatus
		want     ServiceStatus
	}{
		{nil, ServiceNoReplica},
		{[]ReplicaStatus{ReplicaPending, ReplicaProvisioning}, ServiceReplicaInit},
		{[]ReplicaStatus{ReplicaStarting, ReplicaFailedProvision}, ServiceFailed},
		{[]ReplicaStatus{ReplicaFailed, ReplicaReady}, ServiceReady},
		{[]ReplicaStatus{ReplicaNotReady, ReplicaShuttingDown, ReplicaPreempted}, ServiceReplicaInit},
	}
	for _, tt := range tests {
		if got := ServiceStatusOf(tt.replicas); got != tt.want {
			t.Errorf("ServiceStatusOf(%v) = %s, want %s", tt.replicas, got, tt.want)
		}
	}
}
