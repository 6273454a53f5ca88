package fakeec2

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func vpcID(region string) string { return "vpc-" + strings.ReplaceAll(region, "-", "") }

func subnetID(zone string) string { return "subnet-" + strings.ReplaceAll(zone, "-", "") }

func notFound(code, msg string) *apiError { return &apiError{http.StatusBadRequest, code, msg} }

func ret() string { return "<return>true</return>" }

// do answers one action in region.
func (s *Server) do(region, action string, f form) (string, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	zone := ""
	if sub := f.get("NetworkInterface.1.SubnetId"); sub != "" {
		for _, z := range Zones(region) {
			if subnetID(z) == sub {
				zone = z
			}
		}
	}
	s.calls = append(s.calls, strings.TrimSpace(action+" "+zone))
	if e := s.injected(action, region, zone); e != nil {
		return "", e
	}
	switch action {
	case "DescribeRegions":
		var b strings.Builder
		for _, r := range s.Regions {
			fmt.Fprintf(&b, "<item><regionName>%s</regionName><regionEndpoint>ec2.%s.amazonaws.com</regionEndpoint></item>", r, r)
		}
		return "<regionInfo>" + b.String() + "</regionInfo>", nil
	case "DescribeVpcs":
		fl := f.filters()
		if v, ok := fl["isDefault"]; ok && !slices.Contains(v, "true") {
			return "<vpcSet/>", nil
		}
		if _, ok := fl["tag:Name"]; ok {
			return "<vpcSet/>", nil // only default VPCs here
		}
		return fmt.Sprintf("<vpcSet><item><vpcId>%s</vpcId><isDefault>true</isDefault><state>available</state></item></vpcSet>", vpcID(region)), nil
	case "DescribeSubnets":
		fl := f.filters()
		var b strings.Builder
		for i, z := range Zones(region) {
			if v, ok := fl["vpc-id"]; ok && !slices.Contains(v, vpcID(region)) {
				continue
			}
			if v, ok := fl["availability-zone"]; ok && !slices.Contains(v, z) {
				continue
			}
			if v, ok := fl["availability-zone-id"]; ok && !slices.Contains(v, ZoneIDs(region)[i]) {
				continue
			}
			fmt.Fprintf(&b, "<item><subnetId>%s</subnetId><vpcId>%s</vpcId><availabilityZone>%s</availabilityZone><availabilityZoneId>%s</availabilityZoneId><defaultForAz>true</defaultForAz><mapPublicIpOnLaunch>true</mapPublicIpOnLaunch></item>",
				subnetID(z), vpcID(region), z, ZoneIDs(region)[i])
		}
		return "<subnetSet>" + b.String() + "</subnetSet>", nil
	case "DescribeSecurityGroups":
		fl := f.filters()
		var b strings.Builder
		for _, g := range s.sgs {
			if g.region != region {
				continue
			}
			if v, ok := fl["group-name"]; ok && !slices.Contains(v, g.name) {
				continue
			}
			if v, ok := fl["vpc-id"]; ok && !slices.Contains(v, g.vpc) {
				continue
			}
			fmt.Fprintf(&b, "<item><groupId>%s</groupId><groupName>%s</groupName><vpcId>%s</vpcId></item>", g.id, g.name, g.vpc)
		}
		return "<securityGroupInfo>" + b.String() + "</securityGroupInfo>", nil
	case "CreateSecurityGroup":
		name := f.get("GroupName")
		for _, g := range s.sgs {
			if g.region == region && g.name == name && g.vpc == f.get("VpcId") {
				return "", notFound("InvalidGroup.Duplicate", "The security group '"+name+"' already exists")
			}
		}
		g := &group{id: s.id("sg"), name: name, vpc: f.get("VpcId"), region: region, tags: f.tags()}
		s.sgs[g.id] = g
		return "<return>true</return><groupId>" + g.id + "</groupId>", nil
	case "AuthorizeSecurityGroupIngress":
		g := s.sgs[f.get("GroupId")]
		if g == nil {
			return "", notFound("InvalidGroup.NotFound", "The security group '"+f.get("GroupId")+"' does not exist")
		}
		rule := f.get("IpPermissions.1.IpProtocol") + ":" + f.get("IpPermissions.1.FromPort") + "-" + f.get("IpPermissions.1.ToPort")
		if slices.Contains(g.rules, rule) {
			return "", notFound("InvalidPermission.Duplicate", "the specified rule already exists")
		}
		g.rules = append(g.rules, rule)
		return ret(), nil
	case "DeleteSecurityGroup":
		id := f.get("GroupId")
		if s.sgs[id] == nil {
			return "", notFound("InvalidGroup.NotFound", "The security group '"+id+"' does not exist")
		}
		for _, in := range s.insts {
			if in.State != "terminated" && slices.Contains(in.Groups, id) {
				return "", notFound("DependencyViolation", "resource "+id+" has a dependent object")
			}
		}
		delete(s.sgs, id)
		return ret(), nil
	case "DescribeKeyPairs":
		names := f.filters()["key-name"]
		var b strings.Builder
		for name, pub := range s.keys[region] {
			if names != nil && !slices.Contains(names, name) {
				continue
			}
			fmt.Fprintf(&b, "<item><keyName>%s</keyName><keyPairId>key-%s</keyPairId><keyType>ed25519</keyType><publicKey>%s</publicKey></item>", name, name, esc(pub))
		}
		return "<keySet>" + b.String() + "</keySet>", nil
	case "ImportKeyPair":
		name := f.get("KeyName")
		if _, ok := s.keys[region][name]; ok {
			return "", notFound("InvalidKeyPair.Duplicate", "The keypair already exists")
		}
		if s.keys[region] == nil {
			s.keys[region] = map[string]string{}
		}
		s.keys[region][name] = decodeKey(f.get("PublicKeyMaterial"))
		return "<keyName>" + name + "</keyName><keyPairId>key-" + name + "</keyPairId>", nil
	case "DeleteKeyPair":
		delete(s.keys[region], f.get("KeyName"))
		return ret(), nil
	case "RunInstances":
		return s.run(region, zone, f)
	case "DescribeInstances":
		return s.describe(region, f)
	case "TerminateInstances", "StopInstances", "StartInstances":
		return s.change(region, action, f)
	case "ModifyInstanceAttribute":
		in := s.insts[f.get("InstanceId")]
		if in == nil || in.Region != region {
			return "", notFound("InvalidInstanceID.NotFound", "The instance ID '"+f.get("InstanceId")+"' does not exist")
		}
		if v := f.get("InstanceInitiatedShutdownBehavior.Value"); v != "" {
			if v != "stop" && v != "terminate" {
				return "", notFound("InvalidParameterValue", "Value ("+v+") for parameter instanceInitiatedShutdownBehavior is invalid")
			}
			in.ShutdownBehavior = v
		}
		return ret(), nil
	}
	return "", &apiError{http.StatusBadRequest, "InvalidAction", "The action " + action + " is not valid for this web service (fakeec2)"}
}

func (s *Server) run(region, zone string, f form) (string, *apiError) {
	image := f.get("ImageId")
	if !slices.Contains(s.Images[region], image) {
		return "", notFound("InvalidAMIID.NotFound", "The image id '["+image+"]' does not exist")
	}
	if zone == "" {
		return "", notFound("MissingParameter", "fakeec2 wants NetworkInterface.1.SubnetId")
	}
	pub, ok := s.keys[region][f.get("KeyName")]
	if !ok {
		return "", notFound("InvalidKeyPair.NotFound", "The key pair '"+f.get("KeyName")+"' does not exist")
	}
	n, _ := strconv.Atoi(f.get("MaxCount"))
	disk, _ := strconv.Atoi(f.get("BlockDeviceMapping.1.Ebs.VolumeSize"))
	var b strings.Builder
	for i := range n {
		in := &Instance{ID: s.id("i"), Region: region, Zone: zone, Type: f.get("InstanceType"), Image: image,
			KeyName: f.get("KeyName"), SubnetID: f.get("NetworkInterface.1.SubnetId"), Groups: f.list("NetworkInterface.1.SecurityGroupId"),
			LaunchIndex: i, Spot: f.get("InstanceMarketOptions.MarketType") == "spot", State: "pending",
			Tags: f.tags(), DiskGB: disk, VolumeType: f.get("BlockDeviceMapping.1.Ebs.VolumeType"), pendingReads: 1,
			ShutdownBehavior: f.get("InstanceInitiatedShutdownBehavior"),
			hiddenReads:      s.DescribeLag}
		if err := s.boot(in, pub); err != nil {
			return "", &apiError{http.StatusInternalServerError, "InternalError", err.Error()}
		}
		s.insts[in.ID] = in
		s.order = append(s.order, in.ID)
		b.WriteString("<item>" + instanceXML(in) + "</item>")
	}
	return "<reservationId>r-" + s.id("r") + "</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>" + b.String() + "</instancesSet>", nil
}

// boot starts the instance's sshd host, accepting its key pair, in the home the instance had before (a
// stopped instance keeps its disk).
func (s *Server) boot(in *Instance, pub string) error {
	h := s.NewHost(s.t, in.home)
	if in.home == "" {
		in.home = h.Home
	}
	in.Host = h
	return h.Authorize(pub)
}

func instanceXML(in *Instance) string {
	codes := map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
	var b strings.Builder
	fmt.Fprintf(&b, "<instanceId>%s</instanceId><imageId>%s</imageId><instanceState><code>%d</code><name>%s</name></instanceState>",
		in.ID, in.Image, codes[in.State], in.State)
	fmt.Fprintf(&b, "<instanceType>%s</instanceType><keyName>%s</keyName><amiLaunchIndex>%d</amiLaunchIndex><placement><availabilityZone>%s</availabilityZone></placement>",
		in.Type, in.KeyName, in.LaunchIndex, in.Zone)
	if in.Host != nil && in.State != "terminated" {
		fmt.Fprintf(&b, "<privateIpAddress>%s</privateIpAddress><ipAddress>%s</ipAddress>", in.Host.Host, in.Host.Host)
	}
	fmt.Fprintf(&b, "<subnetId>%s</subnetId>", in.SubnetID)
	if in.Spot {
		b.WriteString("<instanceLifecycle>spot</instanceLifecycle>")
	}
	if in.ReasonCode != "" {
		fmt.Fprintf(&b, "<stateReason><code>%s</code><message>%s</message></stateReason>", esc(in.ReasonCode), esc(in.ReasonMessage))
	}
	b.WriteString("<tagSet>")
	for k, v := range in.Tags {
		fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", esc(k), esc(v))
	}
	b.WriteString("</tagSet>")
	return b.String()
}

// describe answers DescribeInstances. A transitional state (pending, stopping, shutting-down) is shown once
// before the state it leads to, so that callers must poll as they must on EC2.
func (s *Server) describe(region string, f form) (string, *apiError) {
	ids := f.list("InstanceId")
	for _, id := range ids {
		if in := s.insts[id]; in != nil && in.hiddenReads > 0 {
			in.hiddenReads--
			return "", notFound("InvalidInstanceID.NotFound", "The instance ID '"+id+"' does not exist")
		}
	}
	fl := f.filters()
	var b strings.Builder
	for _, id := range s.order {
		in := s.insts[id]
		s.observePowerOff(in)
		if in.Region != region || (ids != nil && !slices.Contains(ids, id)) {
			continue
		}
		match := true
		for name, vals := range fl {
			if k, ok := strings.CutPrefix(name, "tag:"); ok {
				match = match && slices.Contains(vals, in.Tags[k])
			}
			if name == "instance-state-name" {
				match = match && slices.Contains(vals, in.State)
			}
		}
		if !match {
			continue
		}
		fmt.Fprintf(&b, "<item><reservationId>r-%s</reservationId><ownerId>123456789012</ownerId><instancesSet><item>%s</item></instancesSet></item>", in.ID, instanceXML(in))
		s.advance(in)
	}
	for _, id := range ids {
		if s.insts[id] == nil {
			return "", notFound("InvalidInstanceID.NotFound", "The instance ID '"+id+"' does not exist")
		}
	}
	return "<reservationSet>" + b.String() + "</reservationSet>", nil
}

// observePowerOff does what EC2 does when the instance's OS powered it off (its host's shutdown shim ran): stop
// it, or terminate it, as its InstanceInitiatedShutdownBehavior says (stop when unset).
func (s *Server) observePowerOff(in *Instance) {
	if in.Host == nil || !in.Host.PoweredOff() || (in.State != "running" && in.State != "pending") {
		return
	}
	if in.ShutdownBehavior == "terminate" {
		s.end(in, "shutting-down", "Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown: Instance initiated shutdown")
	} else {
		s.end(in, "stopping", "Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown: Instance initiated shutdown")
	}
	in.pendingReads = 1
}

// advance moves a transitional state on once it has been seen.
func (s *Server) advance(in *Instance) {
	if in.pendingReads > 0 {
		in.pendingReads--
		return
	}
	switch in.State {
	case "pending":
		in.State = "running"
	case "stopping":
		in.State = "stopped"
	case "shutting-down":
		in.State = "terminated"
	}
}

func (s *Server) change(region, action string, f form) (string, *apiError) {
	ids := f.list("InstanceId")
	for _, id := range ids {
		if in := s.insts[id]; in == nil || in.Region != region {
			return "", notFound("InvalidInstanceID.NotFound", "The instance ID '"+id+"' does not exist")
		}
	}
	var b strings.Builder
	for _, id := range ids {
		in := s.insts[id]
		prev := in.State
		switch action {
		case "TerminateInstances":
			if in.State != "terminated" {
				s.end(in, "shutting-down", "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown")
				in.pendingReads = 1
			}
		case "StopInstances":
			if in.Spot {
				return "", notFound("UnsupportedOperation", "You can't stop the Spot Instance '"+id+"' because it is associated with a one-time Spot Instance request")
			}
			if in.State == "running" || in.State == "pending" {
				s.end(in, "stopping", "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown")
				in.pendingReads = 1
			}
		case "StartInstances":
			if in.State == "stopped" {
				if err := s.boot(in, s.keys[region][in.KeyName]); err != nil {
					return "", &apiError{http.StatusInternalServerError, "InternalError", err.Error()}
				}
				in.State, in.ReasonCode, in.ReasonMessage, in.pendingReads = "pending", "", "", 1
			} else if in.State != "running" && in.State != "pending" {
				return "", notFound("IncorrectInstanceState", "The instance '"+id+"' is not in a state from which it can be started")
			}
		}
		fmt.Fprintf(&b, "<item><instanceId>%s</instanceId><previousState><name>%s</name></previousState><currentState><name>%s</name></currentState></item>", id, prev, in.State)
	}
	return "<instancesSet>" + b.String() + "</instancesSet>", nil
}
