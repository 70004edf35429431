# A VPC laid out the way cloudroutes expects: one private subnet and one route table per AZ, the
# tables tagged for the cluster, node instances tagged for the cluster, and an IAM role that lets
# a controller instance (or a CI runner) run `cloudroutes apply`.
#
# cloudroutes then owns, in these tables, the routes of the cluster CIDR (10.244.0.0/16 here) and
# the subnet tags on the nodes. Terraform must not manage those: nothing below declares aws_route
# resources inside the cluster CIDR, and the nodes ignore changes to the cloudroutes.io/* tags.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "cluster" {
  type    = string
  default = "prod-eu"
}

variable "azs" {
  type    = list(string)
  default = ["eu-west-1a", "eu-west-1b"]
}

variable "nodes_per_az" {
  type    = number
  default = 2
}

variable "ami" {
  type = string
}

locals {
  cluster_tag = "kubernetes.io/cluster/${var.cluster}"
}

resource "aws_vpc" "main" {
  # Must not overlap the cluster CIDR: cloudroutes refuses to run if it does.
  cidr_block = "10.0.0.0/16"
}

resource "aws_subnet" "private" {
  count             = length(var.azs)
  vpc_id            = aws_vpc.main.id
  availability_zone = var.azs[count.index]
  cidr_block        = cidrsubnet(aws_vpc.main.cidr_block, 8, count.index + 1)
}

resource "aws_route_table" "private" {
  count  = length(var.azs)
  vpc_id = aws_vpc.main.id
  tags = {
    (local.cluster_tag) = "owned"
  }
  # cloudroutes adds and removes the pod routes at run time.
  lifecycle {
    ignore_changes = [route]
  }
}

resource "aws_route_table_association" "private" {
  count          = length(var.azs)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_instance" "node" {
  count         = length(var.azs) * var.nodes_per_az
  ami           = var.ami
  instance_type = "t3.medium"
  subnet_id     = aws_subnet.private[count.index % length(var.azs)].id
  tags = {
    Name                = "node-${count.index + 1}"
    (local.cluster_tag) = "owned"
  }
  # cloudroutes turns the check off on the primary interface and records the pod subnet in tags.
  lifecycle {
    ignore_changes = [source_dest_check, tags["cloudroutes.io/pod-cidr"], tags["cloudroutes.io/pod-cidr-v6"]]
  }
}

# The region this configuration runs in (the provider's, from AWS_REGION or the profile): written
# into the config so that cloudroutes, run anywhere, talks to the VPC's region.
data "aws_region" "current" {}

output "cloudroutes_toml" {
  value = <<-EOT
    provider = "aws"
    [cluster]
    name = "${var.cluster}"
    cidr = "10.244.0.0/16"
    [aws]
    region = "${data.aws_region.current.name}"
    vpc_id = "${aws_vpc.main.id}"
  EOT
}
