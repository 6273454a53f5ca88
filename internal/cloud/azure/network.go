package azure

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Tags stix puts on what it creates, so that `status -r` and down find a cluster's resources.
const (
	tagCluster = "stix-cluster"
	tagUser    = "stix-user"
)

func tags(cluster string) map[string]*string {
	return map[string]*string{tagCluster: to.Ptr(cluster), tagUser: to.Ptr(vm.UserHash())}
}

// group makes the cluster's resource group in the region (stix's own, deleted on down), or finds the one
// azure.resource_group_vm names (kept on down; made when missing).
func (p *Provider) group(ctx context.Context, c *clients, place cloud.Place, cluster, configured string) (name string, own bool, err error) {
	if configured != "" {
		if _, err := c.groups.Get(ctx, configured, nil); err == nil {
			return configured, false, nil
		} else if !isNotFound(err) {
			return "", false, classify("get resource group "+configured, place, err)
		}
		name = configured
	} else {
		name, own = resourceName(cluster), true
	}
	_, err = c.groups.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr(place.Region), Tags: tags(cluster)}, nil)
	return name, own, classify("create resource group "+name, place, err)
}

// securityGroup makes the cluster's network security group: SSH and the task's ports from anywhere (traffic
// inside the virtual network passes Azure's default rules). It returns its id.
func (p *Provider) securityGroup(ctx context.Context, c *clients, place cloud.Place, group, cluster string, ports []vm.PortRange) (string, error) {
	name := resourceName(cluster) + "-nsg"
	rule := func(i int, port string) *armnetwork.SecurityRule {
		return &armnetwork.SecurityRule{Name: to.Ptr("stix-" + port), Properties: &armnetwork.SecurityRulePropertiesFormat{
			Protocol: to.Ptr(armnetwork.SecurityRuleProtocolTCP), Access: to.Ptr(armnetwork.SecurityRuleAccessAllow),
			Direction: to.Ptr(armnetwork.SecurityRuleDirectionInbound), Priority: to.Ptr(int32(1000 + i)),
			SourceAddressPrefix: to.Ptr("*"), SourcePortRange: to.Ptr("*"), DestinationAddressPrefix: to.Ptr("*"),
			DestinationPortRange: to.Ptr(port)}}
	}
	rules := []*armnetwork.SecurityRule{rule(0, "22")}
	for i, r := range ports {
		rules = append(rules, rule(i+1, r.String()))
	}
	pl, err := c.nsgs.BeginCreateOrUpdate(ctx, group, name, armnetwork.SecurityGroup{Location: to.Ptr(place.Region),
		Tags: tags(cluster), Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: rules}}, nil)
	res, err := poll(ctx, c, pl, err)
	if err != nil {
		return "", classify("create network security group "+name, place, err)
	}
	return *res.ID, nil
}

// network makes the cluster's virtual network with one subnet behind the security group, and returns the
// subnet's id.
func (p *Provider) network(ctx context.Context, c *clients, place cloud.Place, group, cluster, nsg string) (string, error) {
	name := resourceName(cluster) + "-vnet"
	pl, err := c.vnets.BeginCreateOrUpdate(ctx, group, name, armnetwork.VirtualNetwork{Location: to.Ptr(place.Region),
		Tags: tags(cluster), Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.0.0.0/16")}},
			Subnets: []*armnetwork.Subnet{{Name: to.Ptr("default"), Properties: &armnetwork.SubnetPropertiesFormat{
				AddressPrefix: to.Ptr("10.0.0.0/16"), NetworkSecurityGroup: &armnetwork.SecurityGroup{ID: to.Ptr(nsg)}}}}}}, nil)
	res, err := poll(ctx, c, pl, err)
	if err != nil {
		return "", classify("create virtual network "+name, place, err)
	}
	if res.Properties == nil || len(res.Properties.Subnets) == 0 || res.Properties.Subnets[0].ID == nil {
		return "", fmt.Errorf("create virtual network %s in %s: Azure returned no subnet", name, place)
	}
	return *res.Properties.Subnets[0].ID, nil
}

func nodeName(cluster string, rank int) string {
	return resourceName(cluster) + "-" + strconv.Itoa(rank)
}

// nic makes a node's public IP (Standard, static, in the zone) and its network interface on the subnet, and
// returns the interface's id.
func (p *Provider) nic(ctx context.Context, c *clients, place cloud.Place, group, cluster, subnet string, rank int) (string, error) {
	name := nodeName(cluster, rank)
	ip := armnetwork.PublicIPAddress{Location: to.Ptr(place.Region), Tags: tags(cluster),
		SKU: &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUNameStandard)},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{
			PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodStatic)}}
	if z := apiZone(place.Zone); z != "" {
		ip.Zones = []*string{to.Ptr(z)}
	}
	pl, err := c.ips.BeginCreateOrUpdate(ctx, group, name+"-ip", ip, nil)
	pip, err := poll(ctx, c, pl, err)
	if err != nil {
		return "", classify("create public IP address "+name+"-ip", place, err)
	}
	pn, err := c.nics.BeginCreateOrUpdate(ctx, group, name+"-nic", armnetwork.Interface{Location: to.Ptr(place.Region),
		Tags: tags(cluster), Properties: &armnetwork.InterfacePropertiesFormat{
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Name: to.Ptr("ipconfig1"),
				Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
					Subnet: &armnetwork.Subnet{ID: to.Ptr(subnet)}, PublicIPAddress: &armnetwork.PublicIPAddress{ID: pip.ID},
					PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic)}}}}}, nil)
	n, err := poll(ctx, c, pn, err)
	if err != nil {
		return "", classify("create network interface "+name+"-nic", place, err)
	}
	return *n.ID, nil
}

// deleteNodes deletes the named VMs (their OS disks go with them), then their interfaces and public IPs; what is
// gone already is fine.
func (p *Provider) deleteNodes(ctx context.Context, c *clients, place cloud.Place, group string, names []string) error {
	return cloud.EachNode(ctx, len(names), func(ctx context.Context, i int) error {
		n := names[i]
		pl, err := c.vms.BeginDelete(ctx, group, n, nil)
		if _, err = poll(ctx, c, pl, err); err != nil && !isNotFound(err) {
			return classify("delete virtual machine "+n, place, err)
		}
		pn, err := c.nics.BeginDelete(ctx, group, n+"-nic", nil)
		if _, err = poll(ctx, c, pn, err); err != nil && !isNotFound(err) {
			return classify("delete network interface "+n+"-nic", place, err)
		}
		pi, err := c.ips.BeginDelete(ctx, group, n+"-ip", nil)
		if _, err = poll(ctx, c, pi, err); err != nil && !isNotFound(err) {
			return classify("delete public IP address "+n+"-ip", place, err)
		}
		return nil
	})
}

// deleteCluster deletes everything of the cluster: its resource group when stix made it; else, in the configured
// group, what carries the cluster's tags (found by Resource Manager's tag filter) and what stix names for it:
// VMs first, then their interfaces and public IPs, then the virtual network and security group, then the
// managed identity's role assignment and the identity.
func (p *Provider) deleteCluster(ctx context.Context, c *clients, place cloud.Place, group string, own bool, cluster string, names []string) error {
	if own {
		pl, err := c.groups.BeginDelete(ctx, group, nil)
		if _, err = poll(ctx, c, pl, err); err != nil && !isNotFound(err) {
			return classify("delete resource group "+group, place, err)
		}
		return nil
	}
	base := resourceName(cluster)
	byType := map[string][]string{"virtualmachines": slices.Clone(names), "networkinterfaces": nil,
		"publicipaddresses": nil, "virtualnetworks": {base + "-vnet"}, "networksecuritygroups": {base + "-nsg"}}
	for _, n := range names {
		byType["networkinterfaces"] = append(byType["networkinterfaces"], n+"-nic")
		byType["publicipaddresses"] = append(byType["publicipaddresses"], n+"-ip")
	}
	filter := fmt.Sprintf("tagName eq '%s' and tagValue eq '%s'", tagCluster, strings.ReplaceAll(cluster, "'", "''"))
	pager := c.tagged.NewListByResourceGroupPager(group, &armresources.ClientListByResourceGroupOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if isNotFound(err) {
			return nil // the group is gone, and the cluster with it
		}
		if err != nil {
			return classify("list the resources of cluster "+cluster+" in resource group "+group, place, err)
		}
		for _, r := range page.Value {
			if r.Type == nil || r.Name == nil || r.Tags[tagUser] == nil || *r.Tags[tagUser] != vm.UserHash() {
				continue
			}
			typ := strings.ToLower(path.Base(*r.Type))
			if l, ok := byType[typ]; ok && !slices.Contains(l, *r.Name) {
				byType[typ] = append(l, *r.Name)
			}
		}
	}
	del := func(kind string, begin func(name string) error) error {
		return cloud.EachNode(ctx, len(byType[kind]), func(_ context.Context, i int) error {
			if err := begin(byType[kind][i]); err != nil && !isNotFound(err) {
				return classify("delete "+kind+" "+byType[kind][i], place, err)
			}
			return nil
		})
	}
	steps := []struct {
		kind  string
		begin func(string) error
	}{
		{"virtualmachines", func(n string) error {
			pl, err := c.vms.BeginDelete(ctx, group, n, nil)
			_, err = poll(ctx, c, pl, err)
			return err
		}},
		{"networkinterfaces", func(n string) error {
			pl, err := c.nics.BeginDelete(ctx, group, n, nil)
			_, err = poll(ctx, c, pl, err)
			return err
		}},
		{"publicipaddresses", func(n string) error {
			pl, err := c.ips.BeginDelete(ctx, group, n, nil)
			_, err = poll(ctx, c, pl, err)
			return err
		}},
		{"virtualnetworks", func(n string) error {
			pl, err := c.vnets.BeginDelete(ctx, group, n, nil)
			_, err = poll(ctx, c, pl, err)
			return err
		}},
		{"networksecuritygroups", func(n string) error {
			pl, err := c.nsgs.BeginDelete(ctx, group, n, nil)
			_, err = poll(ctx, c, pl, err)
			return err
		}},
	}
	for _, st := range steps {
		if err := del(st.kind, st.begin); err != nil {
			return err
		}
	}
	return p.deleteIdentity(ctx, c, place, group, cluster)
}
