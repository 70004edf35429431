# A network laid out the way cloudroutes expects: a subnet that does not overlap the cluster CIDR,
# node VMs labelled for the cluster and allowed to forward packets, and firewall rules that let
# pod traffic in. cloudroutes then owns the routes named cr-<cluster>-... in this network and the
# cloudroutes-pod-cidr labels on the VMs; Terraform must not manage either.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0"
    }
  }
}

variable "project" {
  type = string
}

variable "cluster" {
  type    = string
  default = "prod-eu"
}

variable "zones" {
  type    = list(string)
  default = ["us-central1-a", "us-central1-b"]
}

variable "nodes_per_zone" {
  type    = number
  default = 2
}

resource "google_compute_network" "main" {
  project                 = var.project
  name                    = "${var.cluster}-net"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "nodes" {
  project       = var.project
  name          = "${var.cluster}-nodes"
  network       = google_compute_network.main.id
  region        = "us-central1"
  ip_cidr_range = "10.128.0.0/20" # must not overlap the cluster CIDR (10.244.0.0/16)
}

resource "google_compute_firewall" "pods" {
  project       = var.project
  name          = "${var.cluster}-pods"
  network       = google_compute_network.main.id
  source_ranges = ["10.244.0.0/16", "10.128.0.0/20"]
  allow {
    protocol = "all"
  }
}

resource "google_compute_instance" "node" {
  count          = length(var.zones) * var.nodes_per_zone
  project        = var.project
  name           = "node-${count.index + 1}"
  zone           = var.zones[count.index % length(var.zones)]
  machine_type   = "e2-standard-2"
  can_ip_forward = true # or let `cloudroutes apply` turn it on with gce.fix_forwarding = true
  labels = {
    cloudroutes-cluster = var.cluster
  }
  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
    }
  }
  network_interface {
    subnetwork = google_compute_subnetwork.nodes.id
  }
  lifecycle {
    ignore_changes = [labels["cloudroutes-pod-cidr"], labels["cloudroutes-pod-cidr-v6"]]
  }
}

output "cloudroutes_toml" {
  value = <<-EOT
    provider = "gce"
    [cluster]
    name = "${var.cluster}"
    cidr = "10.244.0.0/16"
    [gce]
    project = "${var.project}"
    network = "${google_compute_network.main.name}"
  EOT
}
