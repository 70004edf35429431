# The least-privilege policy cloudroutes ships (iam-policy.json beside this file), filled in for this
# cluster and VPC: route writes only in tables tagged for the cluster, tag writes only of the
# cloudroutes.io/* keys on instances tagged for the cluster, the forwarding flag only on interfaces
# of this VPC. Attach it to whatever runs `cloudroutes apply`.
resource "aws_iam_policy" "cloudroutes" {
  name = "cloudroutes-${var.cluster}"
  policy = templatefile("${path.module}/iam-policy.json", {
    cluster_name = var.cluster
    vpc_id       = aws_vpc.main.id
  })
}
